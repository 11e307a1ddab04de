"""``bus connect csv`` as an operator runs it: CP1251 with ``;``, dry runs, mistakes explained."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.cli import connect
from bus.event.signing import private_key_pem
from bus.kafka.client import KafkaSettings, read_to_end
from tests.connectors.files.exports import register, write_csv
from tests.engine import PROFILE
from tests.support.cli import BusRunner

runner = BusRunner()
bus = typer.Typer()
bus.add_typer(connect.app, name="connect")  # as bus/cli/app.py registers it


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "agency.pem"
    path.write_bytes(private_key_pem(Ed25519PrivateKey.generate()))
    return path


def connect_csv(
    export: Path, mapping: Path, agency: str, work: Path, registry_url: str, kafka_bootstrap: str, *extra: str
) -> list[str]:
    return [
        "connect", "csv", str(export), "--type", "person", "--key", "iin", "--mapping", str(mapping),
        "--agency", agency, "--spool", str(work / "spool.sqlite"), "--registry", registry_url,
        "--bootstrap", kafka_bootstrap, "--profile", PROFILE, "--wait-s", "120", *extra,
    ]  # fmt: skip


def test_a_cp1251_semicolon_export_with_cyrillic_headers_imports_correctly(
    tmp_path: Path,
    agency: str,
    topic: str,
    mapping_file: Path,
    key_file: Path,
    registry_url: str,
    kafka_bootstrap: str,
    kafka_settings: KafkaSettings,
) -> None:
    # given a Windows export: CP1251, ';' delimiter, Cyrillic headers and names
    rows, _ = register(50)
    export = write_csv(tmp_path / "физлица.csv", rows, encoding="cp1251", delimiter=";")
    args = connect_csv(export, mapping_file, agency, tmp_path, registry_url, kafka_bootstrap)

    # when it is previewed, then nothing is published and the diff is shown
    dry = runner.invoke(bus, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "cp1251, delimiter ';'" in dry.output
    assert "would publish 50 changes" in dry.output
    assert asyncio.run(read_to_end(kafka_settings, topic)) == []

    # when it is imported, then every row arrives with its Cyrillic text intact
    result = runner.invoke(bus, [*args, "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert "published 50 changes" in result.output
    records = asyncio.run(read_to_end(kafka_settings, topic))
    assert len(records) == 50
    assert all(r.key and r.value and r.key.decode() in {row[0] for row in rows} for r in records)
    assert any("Тестова".encode() in (r.value or b"") for r in records)
    assert any("Косшы".encode() in (r.value or b"") for r in records)

    # when it is imported again, then nothing is published
    again = runner.invoke(bus, [*args, "--key-file", str(key_file)])
    assert again.exit_code == 0, again.output
    assert "published 0 changes" in again.output


def test_a_truncated_export_fails_with_the_deletions_withheld(
    tmp_path: Path,
    agency: str,
    topic: str,
    mapping_file: Path,
    key_file: Path,
    registry_url: str,
    kafka_bootstrap: str,
) -> None:
    rows, _ = register(10)
    export = write_csv(tmp_path / "persons.csv", rows)
    args = connect_csv(
        export, mapping_file, agency, tmp_path, registry_url, kafka_bootstrap, "--key-file", str(key_file)
    )
    assert runner.invoke(bus, args).exit_code == 0
    write_csv(export, rows[:3])
    result = runner.invoke(bus, args)
    assert result.exit_code == 1
    assert "7 of 10 stored person rows are missing" in result.output
    assert "--allow-mass-delete" in result.output


def test_a_mapping_naming_an_unknown_field_lists_the_real_ones(
    tmp_path: Path, agency: str, topic: str, registry_url: str, kafka_bootstrap: str
) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("columns:\n  ИИН: iin\n  Город: registered_address.city\n", encoding="utf-8")
    export = write_csv(tmp_path / "persons.csv", register(1)[0])
    result = runner.invoke(
        bus, [*connect_csv(export, mapping, agency, tmp_path, registry_url, kafka_bootstrap), "--dry-run"]
    )
    assert result.exit_code == 1
    assert "record field 'registered_address' has no field 'city'" in " ".join(result.output.split())
    assert "registered_address.settlement" in result.output
