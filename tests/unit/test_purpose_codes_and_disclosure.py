"""Purpose codes and delayed disclosure on agreements: pure specs, the repository's own agreement set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from bus.policy.agreement import Agreement, Disclosure, load_agreements
from bus.policy.purpose_codes import codes_file_for, load_purpose_codes, purpose_code_problems

REPO = Path(__file__).resolve().parents[2]
AGREEMENTS = REPO / "deploy" / "agreements"
DECIDED = dt.datetime(2027, 3, 1, 10, 30, tzinfo=dt.UTC)


def an_agreement(**overrides: object) -> Agreement:
    values: dict[str, object] = {
        "id": "vehicle-to-police-investigation",
        "provider": "vehicle-registry",
        "consumer": "police",
        "record_type": "vehicle",
        "fields": ["vin"],
        "purpose": "criminal investigation",
        "legal_basis": "Code of Criminal Procedure, Art. 199",
        "valid_from": "2027-01-01",
        **overrides,
    }
    return Agreement.model_validate(values)


def test_every_agreement_in_deploy_names_a_code_of_the_list() -> None:
    agreements = load_agreements(AGREEMENTS)
    codes_file = codes_file_for(AGREEMENTS)
    assert codes_file == REPO / "deploy" / "purpose-codes.yaml"
    assert all(a.purpose_code for a in agreements)
    assert purpose_code_problems(agreements, load_purpose_codes(codes_file), codes_file) == []


def test_a_code_missing_from_the_list_is_named_with_the_known_codes(tmp_path: Path) -> None:
    codes = {"tax.property": "Assessing land tax"}
    [problem] = purpose_code_problems(
        [an_agreement(purpose_code="police.fishing")], codes, tmp_path / "c.yaml"
    )
    assert "purpose_code 'police.fishing' is not in the list" in problem
    assert "known codes: tax.property" in problem


def test_a_code_with_no_list_at_all_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "purpose-codes.yaml"
    assert load_purpose_codes(missing) is None
    [problem] = purpose_code_problems([an_agreement(purpose_code="police.investigation")], None, missing)
    assert "there is none at" in problem
    assert purpose_code_problems([an_agreement()], None, missing) == []  # no code, no list needed


def test_a_purpose_code_is_lower_case_words_joined_by_dots() -> None:
    with pytest.raises(ValidationError, match="is not a purpose code"):
        an_agreement(purpose_code="Police Investigation")


def test_a_delay_hides_each_decision_for_that_long() -> None:
    disclosure = Disclosure.model_validate({"hidden_until": "P90D", "reason": "r", "legal_basis": "l"})
    assert disclosure.due(DECIDED) == DECIDED + dt.timedelta(days=90)


def test_a_date_hides_every_decision_until_that_day_starts_in_utc() -> None:
    disclosure = Disclosure.model_validate({"hidden_until": "2027-06-01", "reason": "r", "legal_basis": "l"})
    assert disclosure.due(DECIDED) == dt.datetime(2027, 6, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("hidden_until", "reason", "message"),
    [("PT0S", "r", "must be positive"), ("P1D", "  ", "must not be empty"), (90, "r", "not a bare number")],
)
def test_a_disclosure_needs_a_positive_delay_and_a_reason(
    hidden_until: str | int, reason: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Disclosure.model_validate({"hidden_until": hidden_until, "reason": reason, "legal_basis": "l"})


def test_an_agreement_with_both_survives_the_trip_through_bus_agreements() -> None:
    disclosure = {"hidden_until": "P30D", "reason": "ongoing investigation", "legal_basis": "CCP Art. 201"}
    agreement = an_agreement(purpose_code="police.investigation", disclosure=disclosure)
    assert Agreement.model_validate_json(agreement.model_dump_json()) == agreement
