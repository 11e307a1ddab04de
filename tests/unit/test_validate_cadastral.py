"""Kazakhstan land cadastral numbers: region:district:quarter:parcel as NN:NNN:NNN:NNNN."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.validate.cadastral import validate_cadastral
from bus.validate.result import Invalid, Valid


@pytest.mark.parametrize("value", ["21:320:005:1234", "01:001:001:1", "21:320:005:12", "99:999:999:999"])
def test_well_formed_number_is_valid(value: str) -> None:
    assert validate_cadastral(value) == Valid()


@given(
    st.integers(0, 99),
    st.integers(0, 999),
    st.integers(0, 999),
    st.integers(1, 4).flatmap(lambda width: st.integers(0, 10**width - 1).map(lambda n: f"{n:0{width}d}")),
)
def test_any_number_of_the_documented_shape_is_valid(
    region: int, district: int, quarter: int, parcel: str
) -> None:
    assert validate_cadastral(f"{region:02d}:{district:03d}:{quarter:03d}:{parcel}") == Valid()


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("21:320:005:12345", "parcel of five digits"),
        ("21:320:005:", "empty parcel"),
        ("21:320:005", "missing parcel"),
        ("2:320:005:1234", "one-digit region"),
        ("21:32:005:1234", "two-digit district"),
        ("21:320:0051:1234", "four-digit quarter"),
        ("21-320-005-1234", "dashes instead of colons"),
        ("21:320:005:12a4", "letter in the parcel"),
        (" 21:320:005:1234", "leading space"),
        ("21:320:005:1234\n", "trailing newline"),
        ("\u0662\u0661:320:005:1234", "Arabic-Indic digits"),
        ("", "empty string"),
    ],
)
def test_malformed_number_is_rejected(value: str, what: str) -> None:
    assert isinstance(validate_cadastral(value), Invalid), what


def test_rejection_reason_shows_the_value_and_the_expected_form() -> None:
    verdict = validate_cadastral("21-320-005-1234")
    assert isinstance(verdict, Invalid)
    assert "'21-320-005-1234'" in verdict.reason
    assert "region:district:quarter:parcel" in verdict.reason
    assert "21:320:005:1234" in verdict.reason
