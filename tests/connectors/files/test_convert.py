"""Mapping checks and row conversion: pure, no broker. Every bad cell is named, never raised."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from bus.validate.iin import make_iin
from connectors.files.convert import RowConverter
from connectors.files.mapping import FileMapping, MappingError, check_mapping, load_mapping
from connectors.files.shape import RecordShape, record_shape
from tests.conftest import REPO
from tests.connectors.files.exports import HEADER, MAPPING, person_row
from tests.people import person


@pytest.fixture(scope="module")
def shape() -> RecordShape:
    return record_shape((REPO / "schemas" / "civil" / "person.avsc").read_text())


@pytest.fixture(scope="module")
def converter(shape: RecordShape) -> RowConverter:
    mapping = FileMapping.model_validate(yaml.safe_load(MAPPING))
    check_mapping(mapping, shape, "iin", "m.yaml")
    return RowConverter(mapping, shape, "iin", [*HEADER, "Примечание"], "m.yaml")


def test_a_good_row_becomes_the_canonical_record(converter: RowConverter) -> None:
    converted = converter.convert(2, person_row(7))
    expected = person(7)
    assert converted.problems == ()
    assert converted.key == expected["iin"]
    assert converted.record is not None
    assert converted.record["birth_date"] == expected["birth_date"]
    assert converted.record["sex"] == expected["sex"]
    assert converted.record["citizenship"] == "KAZ"  # from the mapping's defaults
    assert converted.record["registered_address"]["district"] is None  # unmapped, nullable
    assert converter.ignored_columns == ["Примечание"]


def test_every_problem_of_a_row_is_named_with_its_column(converter: RowConverter) -> None:
    row = person_row(7, Фамилия="", Пол="X", **{"Дата рождения": "31.02.1990"})
    row[0] = row[0][:11] + str((int(row[0][11]) + 1) % 10)
    converted = converter.convert(9, row)
    assert converted.record is None
    found = {(p.row, p.column, p.field): p.reason for p in converted.problems}
    assert set(found) == {
        (9, "Фамилия", "surname"),
        (9, "Пол", "sex"),
        (9, "Дата рождения", "birth_date"),
        (9, "ИИН", "iin"),
    }
    assert found[(9, "Фамилия", "surname")] == "required field is empty"
    assert "not one of MALE, FEMALE" in found[(9, "Пол", "sex")]
    assert found[(9, "Дата рождения", "birth_date")] == "'31.02.1990' is not a date in the form %d.%m.%Y"
    assert "check digit" in found[(9, "ИИН", "iin")]


def test_an_iin_that_contradicts_the_birth_date_is_rejected(converter: RowConverter) -> None:
    converted = converter.convert(3, person_row(7, **{"Дата рождения": "01.01.1961"}))
    assert [(p.column, p.field) for p in converted.problems] == [("ИИН", "iin")]


def test_an_optional_nested_record_left_empty_is_null_but_half_filled_is_rejected(
    converter: RowConverter,
) -> None:
    empty = person_row(7, Область="", **{"Населённый пункт": "", "Улица": "", "Дом": ""})
    converted = converter.convert(4, empty)
    assert converted.record is not None
    assert converted.record["registered_address"] is None
    half = converter.convert(5, person_row(7, Дом=""))
    assert [(p.column, p.field, p.reason) for p in half.problems] == [
        ("Дом", "registered_address.building", "required field is empty")
    ]


def test_spreadsheet_cells_keep_their_meaning(shape: RecordShape) -> None:
    # an IIN typed as a number loses its leading zero in Excel; a date cell is a datetime
    iin = make_iin(dt.date(2005, 3, 1), "MALE", 17)
    assert iin is not None
    assert iin.startswith("0")
    mapping = FileMapping.model_validate(
        {
            "columns": {
                "iin": "iin",
                "surname": "surname",
                "name": "given_name",
                "born": "birth_date",
                "sex": {"field": "sex", "case": "upper"},
            }
        }
    )
    converter = RowConverter(mapping, shape, "iin", ["IIN", "Surname", "Name", "Born", "Sex"], "m")
    converted = converter.convert(2, [int(iin), "Ли", "Ким", dt.datetime(2005, 3, 1), "male"])
    assert converted.problems == ()
    assert converted.record is not None
    assert converted.record["iin"] == iin
    assert converted.record["birth_date"] == dt.date(2005, 3, 1)


def test_a_mapping_that_cannot_fit_the_schema_names_every_mistake(shape: RecordShape) -> None:
    mapping = FileMapping.model_validate(
        {
            "columns": {
                "ИИН": "iin",
                "Город": "registered_address.city",
                "Пол": {"field": "sex", "enum": {"Муж": "MAN"}},
                "Адрес": "registered_address",
            },
            "defaults": {"nationality": "KAZ"},
        }
    )
    with pytest.raises(MappingError) as caught:
        check_mapping(mapping, shape, "iin", "m.yaml")
    problems = caught.value.problems
    assert any("has no field 'city'" in p and "registered_address.settlement" in p for p in problems)
    assert any("maps to MAN, not symbols of 'sex' (MALE, FEMALE)" in p for p in problems)
    assert any("'registered_address' is a nested record" in p for p in problems)
    assert any("default 'nationality'" in p for p in problems)
    assert any("required field 'surname'" in p for p in problems)


def test_a_mapped_column_missing_from_the_file_fails_before_any_row(shape: RecordShape) -> None:
    mapping = FileMapping.model_validate(yaml.safe_load(MAPPING))
    with pytest.raises(MappingError, match="column 'Телефон' is not in the file's header"):
        RowConverter(mapping, shape, "iin", HEADER[:-1], "m.yaml")


def test_a_mapping_file_with_a_typo_in_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  ИИН: {field: iin, fromat: x}\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"columns\.ИИН\.fromat: Extra inputs are not permitted"):
        load_mapping(path)
