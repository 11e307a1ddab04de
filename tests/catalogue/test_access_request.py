"""An access request's review summary and draft file: pure specs over the repository's person schema."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from bus.catalogue.access_request import APPLY_NOTE, draft_yaml, render_review, review
from bus.policy.agreement import Agreement, load_agreement_file

REPO = Path(__file__).resolve().parents[2]
PERSON: dict[str, Any] = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text())
REQUEST = Agreement(
    id="civil-registry-to-pension-person",
    provider="civil-registry",
    consumer="pension",
    record_type="person",
    fields=("iin", "birth_date", "registered_address.region"),
    purpose="paying pensions at the right age",
    legal_basis="Social Code, Art. 200",
    valid_from=dt.date(2027, 1, 1),
    replaces="certificate of birth",
)


def test_the_review_lists_what_would_be_delivered_and_what_is_withheld() -> None:
    found = review(REQUEST, PERSON, 4)
    assert [f.path for f in found.granted] == ["iin", "birth_date", "registered_address.region"]
    assert found.granted[1].doc == "Date of birth."
    assert "surname" in found.withheld
    assert "registered_address" not in found.withheld  # partly granted: its region goes
    assert "registered_address.settlement" in found.withheld
    assert "document" in found.withheld
    assert "document.number" not in found.withheld  # named once, with the record it is in
    assert found.problems == ()


def test_the_review_shows_the_projected_schema_and_the_broker_grants_it_adds() -> None:
    found = review(REQUEST, PERSON, 4)
    assert found.projected_schema is not None
    assert [f["name"] for f in found.projected_schema["fields"]] == [
        "iin",
        "birth_date",
        "registered_address",
    ]
    assert found.delivery_subject == "deliver.pension.civil-registry-to-pension-person-value"
    assert "User:pension Read topic literal deliver.pension.civil-registry-to-pension-person" in found.grants


def test_a_field_the_provider_does_not_have_is_a_problem_named_with_the_fields_it_has() -> None:
    found = review(REQUEST.model_copy(update={"fields": ("iin", "salary")}), PERSON, 4)
    [problem] = found.problems
    assert "'salary' does not exist" in problem
    assert "its fields: iin, surname" in problem
    assert found.projected_schema is None


def test_an_unregistered_provider_type_is_a_problem() -> None:
    found = review(REQUEST, None, None)
    assert found.problems == (
        "the provider's schema ingress.civil-registry.person-value is not registered: nothing can be "
        "delivered yet",
    )


def test_the_summary_says_to_whom_why_under_which_law_and_what_it_replaces() -> None:
    text = render_review(review(REQUEST, PERSON, 4))
    assert "Agreement civil-registry-to-pension-person: civil-registry → pension" in text
    assert "law:       Social Code, Art. 200" in text
    assert "replaces:  certificate of birth" in text
    assert "ingress.civil-registry.person-value, schema version 4" in text
    assert text.rstrip().endswith(APPLY_NOTE)


def test_the_draft_file_loads_back_as_the_same_agreement(tmp_path: Path) -> None:
    path = tmp_path / f"{REQUEST.id}.yaml"
    path.write_text(draft_yaml(REQUEST, requested_on=dt.date(2026, 12, 7)))
    assert path.read_text().startswith("# DRAFT access request by pension to civil-registry, 2026-12-07.")
    assert load_agreement_file(path) == REQUEST


def test_a_provider_schema_that_is_not_a_record_is_a_problem() -> None:
    [problem] = review(REQUEST, "string", 1).problems
    assert "is not an Avro record" in problem
