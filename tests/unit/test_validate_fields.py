"""Identifier checks over whole records name the field that is wrong."""

from __future__ import annotations

import datetime as dt

from bus.validate.fields import FieldProblem, check_identifiers, check_key


def test_a_valid_person_has_no_problems() -> None:
    person = {"iin": "900514301239", "birth_date": dt.date(1990, 5, 14), "sex": "MALE", "surname": "Abenov"}
    assert check_identifiers(person) == []


def test_a_wrong_iin_check_digit_is_named_by_field() -> None:
    [problem] = check_identifiers({"iin": "900514301238"})
    assert problem.path == "iin"
    assert "check digit" in problem.reason


def test_iin_must_agree_with_birth_date_and_sex() -> None:
    problems = check_identifiers({"iin": "900514301239", "birth_date": dt.date(1991, 5, 14), "sex": "MALE"})
    assert [p.path for p in problems] == ["iin"]


def test_nested_owner_identifiers_are_checked_with_their_path() -> None:
    record = {"vin": "XTA21150064123456", "owner": {"owner_bin": "123"}}
    expected_reason = check_identifiers({"b_bin": "123"})[0].reason
    assert check_identifiers(record) == [FieldProblem("owner.owner_bin", expected_reason)]


def test_missing_optional_identifiers_are_fine() -> None:
    assert check_identifiers({"owner_iin": None, "cadastral_number": "01:011:001:123"}) == []


def test_iso_date_strings_from_json_are_checked_against_the_iin() -> None:
    problems = check_identifiers({"iin": "900514301239", "birth_date": "1991-05-14", "sex": "MALE"})
    assert [p.path for p in problems] == ["iin"]


def test_a_key_must_be_the_records_valid_identifier() -> None:
    assert check_key("900514301239", "iin", {"iin": "900514301239"}) == []
    assert [p.path for p in check_key("900514301238", "iin", None)] == ["key"]
    assert "must equal" in check_key("900514301239", "iin", {"iin": "851122404567"})[0].reason
    assert "printable" in check_key("", None, None)[0].reason
