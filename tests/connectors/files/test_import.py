"""The connector end to end on a real broker and registry: only changes go, bad rows are reported."""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path

import pytest

from bus.event.envelope import Envelope
from bus.kafka.client import KafkaSettings, read_to_end
from tests.connectors.files.conftest import Importer
from tests.connectors.files.exports import person_row, register, write_csv, write_xlsx


async def events(settings: KafkaSettings, topic: str) -> list[Envelope]:
    return [Envelope.from_headers(r.headers) for r in await read_to_end(settings, topic, timeout_s=120)]


def report_lines(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize(
    "size", [pytest.param(10_000, id="10k"), pytest.param(100_000, id="100k", marks=pytest.mark.slow)]
)
async def test_only_good_changed_rows_are_published_and_each_bad_row_is_reported_precisely(
    size: int,
    tmp_path: Path,
    importer: Importer,
    mapping_file: Path,
    kafka_settings: KafkaSettings,
    topic: str,
) -> None:
    # given an export with 1 % bad rows (check digit, missing surname, bad date, duplicate key)
    rows, bad = register(size, bad_every=100)
    export = write_csv(tmp_path / "persons.csv", rows)

    # when it is imported the first time
    started = time.monotonic()
    first = await importer.run(export, mapping_file)
    elapsed = time.monotonic() - started
    print(
        f"\n{size} rows: import {first.elapsed_s:.1f} s ({first.rows_per_s:,.0f} rows/s), "
        f"with flush {elapsed:.1f} s"
    )

    # then every good row is published once as created, and every bad row has one precise report line
    good = size - size // 100
    assert (first.created, first.updated, first.deleted, first.rejected_rows) == (good, 0, 0, size // 100)
    published = await events(kafka_settings, topic)
    assert len(published) == good
    assert {e.type for e in published} == {"gov.civil.Person.created"}
    assert first.report == tmp_path / "persons.rejected.csv"
    lines = report_lines(first.report)
    assert len(lines) == size // 100
    assert {int(line["row"]): line["column"] for line in lines} == {row: col for row, (col, _) in bad.items()}
    reasons = {int(line["row"]): line["reason"] for line in lines}
    for row, (_, kind) in bad.items():
        expected = {
            "check digit": "check digit",
            "missing surname": "required field is empty",
            "bad date": "is not a date in the form %d.%m.%Y",
            "duplicate key": f"duplicate key: row {row - 1} has the same iin",
        }[kind]
        assert expected in reasons[row], (row, reasons[row])

    # when the same file is imported again
    second = await importer.run(export, mapping_file)
    # then nothing is published
    assert (second.published, second.unchanged) == (0, good)
    assert len(await events(kafka_settings, topic)) == good

    # when ten rows change their surname
    changed_rows = [n for n in range(0, size, size // 10)][:10]
    for n in changed_rows:
        rows[n] = person_row(n, Фамилия=f"Жаңа{n}")
    third = await importer.run(write_csv(export, rows), mapping_file)
    # then exactly ten updates are published, each naming the changed field
    assert (third.created, third.updated, third.deleted) == (0, 10, 0)
    updates = [e for e in await events(kafka_settings, topic) if e.type.endswith(".updated")]
    assert sorted(e.subject for e in updates) == sorted(rows[n][0] for n in changed_rows)
    assert {e.changed for e in updates} == {("surname",)}


async def test_deletions_are_published_but_a_mass_deletion_is_withheld(
    tmp_path: Path, importer: Importer, mapping_file: Path, kafka_settings: KafkaSettings, topic: str
) -> None:
    # given a register of 20 imported people
    rows, _ = register(20)
    export = write_csv(tmp_path / "persons.csv", rows)
    await importer.run(export, mapping_file)

    # when an export lacks 2 of them
    summary = await importer.run(write_csv(export, rows[2:]), mapping_file)
    # then 2 tombstones are published
    assert (summary.deleted, summary.deletions_withheld) == (2, 0)
    tombstones = [r for r in await read_to_end(kafka_settings, topic) if r.value is None]
    assert sorted(r.key.decode() for r in tombstones if r.key) == sorted(row[0] for row in rows[:2])

    # when a truncated export holds only 5 of the 18 left
    truncated = await importer.run(write_csv(export, rows[2:7]), mapping_file)
    # then no deletion is published and the snapshot keeps them
    assert (truncated.deleted, truncated.deletions_withheld) == (0, 13)
    again = await importer.run(write_csv(export, rows[2:7]), mapping_file, dry_run=True)
    assert again.deletions_withheld == 13

    # unless the operator says the export is complete
    allowed = await importer.run(write_csv(export, rows[2:7]), mapping_file, allow_mass_delete=True)
    assert allowed.deleted == 13


async def test_a_row_rejected_this_time_is_not_deleted_and_a_dry_run_publishes_nothing(
    tmp_path: Path, importer: Importer, mapping_file: Path, kafka_settings: KafkaSettings, topic: str
) -> None:
    # given 10 imported people
    rows, _ = register(10)
    export = write_csv(tmp_path / "persons.csv", rows)
    await importer.run(export, mapping_file)
    # when one of them now has an unreadable birth date and another a new phone (dry run)
    rows[3] = person_row(3, **{"Дата рождения": "1990/05/14"})
    rows[4] = person_row(4, Телефон="+77010000000")
    dry = await importer.run(write_csv(export, rows), mapping_file, dry_run=True)
    # then the dry run counts one update, one rejection and no deletion, and publishes nothing
    assert (dry.updated, dry.rejected_rows, dry.deleted, dry.unchanged) == (1, 1, 0, 8)
    assert len(await read_to_end(kafka_settings, topic)) == 10
    # and the real run publishes just the update
    real = await importer.run(export, mapping_file)
    assert (real.updated, real.deleted) == (1, 0)
    assert len(await read_to_end(kafka_settings, topic)) == 11


async def test_an_xlsx_export_imports_like_the_csv(
    tmp_path: Path, importer: Importer, mapping_file: Path, kafka_settings: KafkaSettings, topic: str
) -> None:
    rows, bad = register(300, bad_every=50)
    summary = await importer.run(write_xlsx(tmp_path / "persons.xlsx", rows), mapping_file)
    assert (summary.file_format, summary.created, summary.rejected_rows) == ("xlsx", 294, 6)
    assert summary.report is not None
    assert {int(line["row"]) for line in report_lines(summary.report)} == set(bad)
    assert len(await read_to_end(kafka_settings, topic)) == 294
    assert Counter(e.type for e in await events(kafka_settings, topic)) == {"gov.civil.Person.created": 294}
