"""Mapping YAML and row -> record transforms, and turning pgoutput changes into SDK changes (no sockets)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bus.errors import ConfigError
from bus.event.envelope import ChangeKind
from connectors.postgres.changes import Assembler, ChangeBuilder, event_id
from connectors.postgres.config import TableConfig, load_config
from connectors.postgres.errors import CdcConfigError, RowMappingError
from connectors.postgres.mapping import RowMapper
from connectors.postgres.pgoutput import Begin, Column, Commit, Delete, Relation, Update
from tests.connectors.postgres.conftest import DEPLOY_MAPPING

T0 = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


def mapper(fields: dict[str, Any], key: str = "iin") -> RowMapper:
    return RowMapper(
        TableConfig.model_validate({"table": "people", "record_type": "person", "key": key, "fields": fields})
    )


def test_the_shipped_civil_registry_mapping_loads() -> None:
    config = load_config(DEPLOY_MAPPING)
    assert config.tables[0].table == "registry.citizens"
    assert config.spool.is_absolute() or config.spool.parent.name == "bus-data"


def test_renames_enums_dates_constants_and_nested_records() -> None:
    people = mapper(
        {
            "iin": "iin",
            "sex": {"column": "gender", "enum": {"M": "MALE", "F": "FEMALE"}},
            "birth_date": {"column": "born", "as": "date", "format": "%d.%m.%Y"},
            "citizenship": {"value": "KAZ"},
            "phone": {"column": "phone", "default": "unknown"},
            "address": {"fields": {"region": "region", "building": {"column": "house", "as": "string"}}},
        }
    )
    row = {
        "iin": "900514301239",
        "gender": "M",
        "born": "14.05.1990",
        "phone": None,
        "region": "Akmola",
        "house": 12,
    }
    assert people.table == "public.people"
    assert people.record(row) == {
        "iin": "900514301239",
        "sex": "MALE",
        "birth_date": dt.date(1990, 5, 14),
        "citizenship": "KAZ",
        "phone": "unknown",
        "address": {"region": "Akmola", "building": "12"},
    }
    assert people.record({**row, "region": None, "house": None})["address"] is None


def test_an_unmapped_enum_value_names_table_column_and_field() -> None:
    people = mapper({"iin": "iin", "sex": {"column": "gender", "enum": {"M": "MALE"}}})
    with pytest.raises(RowMappingError, match="column gender cannot become field sex") as info:
        people.record({"iin": "1", "gender": "X"})
    assert (info.value.table, info.value.column, info.value.field) == ("public.people", "gender", "sex")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"slot": "Bad-Slot"}, "slot: must be a lower-case PostgreSQL identifier"),
        ({"tabels": []}, "tabels: Extra inputs are not permitted"),
        ({"agency": "Civil"}, "agency id 'Civil' is not valid"),
    ],
)
def test_config_mistakes_name_the_entry(tmp_path: Path, change: dict[str, Any], complaint: str) -> None:
    raw = {**yaml.safe_load(DEPLOY_MAPPING.read_text()), **change}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=complaint):
        load_config(path)


def test_a_field_with_two_sources_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEPLOY_MAPPING.read_text())
    raw["tables"][0]["fields"]["phone"] = {"column": "phone", "value": "x"}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(
        CdcConfigError, match=r"tables\.0\.fields\.phone.*exactly one of column, value or fields"
    ):
        load_config(path)


RELATION = Relation(
    16385,
    "public",
    "people",
    "f",
    (Column("iin", 25, -1, True), Column("name", 25, -1, False), Column("updated", 1184, -1, False)),
)


def transaction(*changes: Any, lsn: int = 0x1000) -> Any:
    assembler = Assembler()
    assembler.feed(RELATION)
    assembler.feed(Begin(lsn, T0, 1))
    for change in changes:
        assembler.feed(change)
    return assembler.feed(Commit(lsn, lsn + 0x30, T0))


def builder() -> ChangeBuilder:
    return ChangeBuilder(
        "civil/gbd", {"public.people": mapper({"iin": "iin", "name": "name"})}, lambda _, t: t
    )


def test_updates_carry_changed_fields_and_key_changes_become_delete_plus_create() -> None:
    txn = transaction(
        Update(16385, ("1", "Ann", "t1"), False, ("1", "Anna", "t2")),
        Update(16385, ("1", "Anna", "t2"), False, ("1", "Anna", "t3")),  # only an unmapped column
        Update(16385, ("1", "Anna", "t3"), False, ("2", "Anna", "t3")),
        Delete(16385, ("2", None, None), True),
    )
    outcome = builder().build([txn], set())
    assert [(c.kind, c.key, c.changed) for _, c in outcome.changes] == [
        (ChangeKind.UPDATED, "1", ("name",)),
        (ChangeKind.DELETED, "1", None),
        (ChangeKind.CREATED, "2", None),
        (ChangeKind.DELETED, "2", None),
    ]
    assert outcome.skipped_unchanged == 1
    assert all(c.time == T0 for _, c in outcome.changes)


def test_event_ids_are_the_same_when_a_transaction_is_read_again() -> None:
    txn = transaction(Update(16385, ("1", "Ann", "t1"), False, ("1", "Anna", "t2")))
    first = [c.event_id for _, c in builder().build([txn], set()).changes]
    again = [c.event_id for _, c in builder().build([txn], set()).changes]
    assert first == again
    assert first[0] == event_id("civil/gbd", 0x1000, 0, "public.people", "1", ChangeKind.UPDATED)
    other = transaction(Update(16385, ("1", "Ann", "t1"), False, ("1", "Anna", "t2")), lsn=0x2000)
    assert [c.event_id for _, c in builder().build([other], set()).changes] != first


def test_the_connect_postgres_command_reports_a_bad_config(tmp_path: Path) -> None:
    import typer

    from bus.cli.connect_postgres import postgres

    app = typer.Typer()
    app.command()(postgres)
    (tmp_path / "m.yaml").write_text("agency: [")
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "m.yaml"), "--bootstrap", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert "is not valid YAML" in " ".join(result.output.split())  # rich wraps long lines
