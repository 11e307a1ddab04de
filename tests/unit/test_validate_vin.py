"""Vehicle identification numbers: ISO 3779 form and the North American check digit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.validate.result import Invalid, Valid
from bus.validate.vin import validate_vin

CLASSIC = "1M8GDM9AXKP042788"
ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
CHECK_CHARACTERS = "0123456789X"


def with_char(vin: str, position: int, char: str) -> str:
    """``vin`` with the character at 1-based ``position`` replaced."""
    return f"{vin[: position - 1]}{char}{vin[position:]}"


vin_bodies = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


def test_classic_example_is_valid() -> None:
    assert validate_vin(CLASSIC) == Valid()


def test_wrong_check_digit_names_the_expected_character() -> None:
    # given the classic VIN with its check character X replaced by 1
    verdict = validate_vin(with_char(CLASSIC, 9, "1"))
    # then the reason names what was found and what was expected
    assert verdict == Invalid("VIN 1M8GDM9A1KP042788: check digit (9th character) is '1', expected 'X'")


@pytest.mark.parametrize("letter", ["I", "O", "Q", "i", "o", "q"])
def test_letters_i_o_q_are_rejected_as_never_used(letter: str) -> None:
    verdict = validate_vin(with_char(CLASSIC, 11, letter))
    assert isinstance(verdict, Invalid)
    assert f"character 11 is {letter!r}; VINs never use the letters I, O and Q" in verdict.reason


@pytest.mark.parametrize("value", ["", CLASSIC[:16], f"{CLASSIC}1", f" {CLASSIC}"])
def test_vin_of_wrong_length_is_rejected_with_its_length(value: str) -> None:
    verdict = validate_vin(value)
    assert isinstance(verdict, Invalid)
    assert f"must be exactly 17 characters, got {len(value)}" in verdict.reason


def test_lower_case_letter_is_rejected_with_a_hint_to_use_upper_case() -> None:
    verdict = validate_vin(CLASSIC.lower())
    assert isinstance(verdict, Invalid)
    assert "write letters in upper case" in verdict.reason


@pytest.mark.parametrize("char", ["-", " ", "\u00c4", "\uff11"])
def test_punctuation_and_non_latin_characters_are_rejected(char: str) -> None:
    verdict = validate_vin(with_char(CLASSIC, 5, char))
    assert isinstance(verdict, Invalid)
    assert f"character 5 is {char!r}" in verdict.reason


def test_vin_without_check_digit_passes_when_the_check_is_not_required() -> None:
    # given a VIN made for a market that leaves the 9th character free (here Z)
    european = "WVWZZZ1JZXW000001"
    # then it fails the North American check but passes the ISO 3779 form check
    assert isinstance(validate_vin(european), Invalid)
    assert validate_vin(european, require_check_digit=False) == Valid()


@pytest.mark.parametrize("value", [CLASSIC[:16], with_char(CLASSIC, 3, "O"), CLASSIC.lower()])
def test_form_is_still_checked_when_the_check_digit_is_not_required(value: str) -> None:
    assert isinstance(validate_vin(value, require_check_digit=False), Invalid)


def test_letter_and_digit_with_the_same_value_are_not_told_apart() -> None:
    # given the classic VIN with its first character 1 replaced by A, which also counts as 1
    # then the check digit still fits: the transliteration maps several characters to one value
    assert validate_vin(with_char(CLASSIC, 1, "A")) == Valid()


@given(vin_bodies)
def test_exactly_one_check_character_fits_any_vin(body: str) -> None:
    fitting = [c for c in CHECK_CHARACTERS if validate_vin(with_char(body, 9, c)) == Valid()]
    assert len(fitting) == 1


@given(vin_bodies)
def test_changing_a_digit_to_another_digit_outside_the_check_position_is_caught(body: str) -> None:
    """Every weight except the 9th is non-zero mod 11, and digits count as themselves."""
    # given a valid VIN
    vin = next(v for c in CHECK_CHARACTERS if validate_vin(v := with_char(body, 9, c)) == Valid())
    # when any digit outside the 9th position is changed to another digit
    for position, original in enumerate(vin, start=1):
        if position == 9 or not original.isdigit():
            continue
        for digit in set("0123456789") - {original}:
            # then the result is rejected
            assert isinstance(validate_vin(with_char(vin, position, digit)), Invalid)
