"""Kazakhstan IIN and BIN validation (DESIGN §3: identifiers are validated, not trusted).

What the check digit guarantees, verified here exhaustively and by property tests:

* changing the 12th digit (the check digit itself), or swapping it with the 11th, is always caught;
* changing one of digits 1-10, or swapping two different adjacent digits among digits 1-11, is
  caught unless the original or the altered number needs the second weights (remainder 10 under
  the first weights); about 1.7 % of such changes slip through that way;
* the 11th digit has weight 11 = 0 (mod 11) under the first weights, so changing it is caught
  only when the number needs the second weights; for the other 11 valid numbers in 12 it goes
  unnoticed.
"""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bus.validate.iin import iin_check_digit, make_iin, validate_bin, validate_iin
from bus.validate.result import Invalid, Valid

FIRST_WEIGHTS = tuple(range(1, 12))
SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
SEXES = ("MALE", "FEMALE")


def needs_second_weights(number: str) -> bool:
    """Whether digits 1-11 leave remainder 10 under the first weights."""
    return sum(w * int(d) for w, d in zip(FIRST_WEIGHTS, number[:11], strict=True)) % 11 == 10


def with_digit(number: str, position: int, digit: int) -> str:
    """``number`` with the digit at 1-based ``position`` replaced."""
    return f"{number[: position - 1]}{digit}{number[position:]}"


def swapped(number: str, position: int) -> str:
    """``number`` with the digits at 1-based ``position`` and ``position + 1`` swapped."""
    i = position - 1
    return f"{number[:i]}{number[i + 1]}{number[i]}{number[i + 2 :]}"


def completed(first11: str) -> str:
    check = iin_check_digit(first11)
    assert check is not None
    return f"{first11}{check}"


@st.composite
def valid_iins(draw: st.DrawFn) -> tuple[str, date, str]:
    birth = draw(st.dates(date(1850, 1, 1), date(2099, 12, 31)))
    sex = draw(st.sampled_from(SEXES))
    iin = make_iin(birth, sex, draw(st.integers(0, 9999)))
    assume(iin is not None)
    assert iin is not None
    return iin, birth, sex


@st.composite
def iins_needing_second_weights(draw: st.DrawFn) -> str:
    """Valid IINs whose check digit comes from the second weights (about 1 in 12)."""
    birth = draw(st.dates(date(1850, 1, 1), date(2099, 12, 31)))
    sex = draw(st.sampled_from(SEXES))
    start = draw(st.integers(0, 9999))
    for offset in range(10_000):
        iin = make_iin(birth, sex, (start + offset) % 10_000)
        if iin is not None and needs_second_weights(iin):
            return iin
    raise AssertionError("every birth date has serials that need the second weights")


@st.composite
def valid_bins(draw: st.DrawFn) -> str:
    year = draw(st.integers(0, 99))
    month = draw(st.integers(1, 12))
    entity_type = draw(st.sampled_from("456"))
    attribute = draw(st.integers(0, 9))
    serial = draw(st.integers(0, 99_999))
    first11 = f"{year:02d}{month:02d}{entity_type}{attribute}{serial:05d}"
    check = iin_check_digit(first11)
    assume(check is not None)
    return f"{first11}{check}"


# --- known numbers --------------------------------------------------------------------------------


def test_known_male_iin_is_valid() -> None:
    # given the IIN of a man born 1990-05-14
    # when it is validated against his record
    verdict = validate_iin("900514301239", birth_date=date(1990, 5, 14), sex="MALE")
    # then it passes
    assert verdict == Valid()
    assert verdict.ok


def test_known_female_iin_is_valid() -> None:
    assert validate_iin("851122404567", birth_date=date(1985, 11, 22), sex="FEMALE") == Valid()


def test_wrong_check_digit_names_the_expected_digit() -> None:
    # given a known IIN whose last digit was mistyped
    # when it is validated
    verdict = validate_iin("900514301238")
    # then the reason says which digit was found and which was expected
    assert verdict == Invalid("IIN 900514301238: check digit is 8, expected 9")
    assert not verdict.ok


# --- form -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "90051430123", "9005143012390", " 900514301239"])
def test_iin_of_wrong_length_is_rejected_with_its_length(value: str) -> None:
    verdict = validate_iin(value)
    assert isinstance(verdict, Invalid)
    assert f"got {len(value)} characters" in verdict.reason


@pytest.mark.parametrize(
    "value",
    ["90051430123a", "9005-4301239", "\uff19\uff10\uff10514301239", "\u0669\u0660\u0660514301239"],
)
def test_iin_with_a_non_ascii_digit_character_is_rejected(value: str) -> None:
    # given 12 characters of which one is not 0-9 (letters, dashes, full-width or Arabic-Indic digits)
    verdict = validate_iin(value)
    assert isinstance(verdict, Invalid)
    assert "only digits 0-9 are allowed" in verdict.reason


# --- birth date and century digit -----------------------------------------------------------------


@pytest.mark.parametrize("century_digit", [0, 7, 8, 9])
def test_century_digit_outside_1_to_6_is_rejected(century_digit: int) -> None:
    # given an IIN with a correct check digit but a 7th digit that encodes no century
    iin = completed(f"900514{century_digit}0001")
    # when it is validated
    verdict = validate_iin(iin)
    # then the 7th digit is named
    assert isinstance(verdict, Invalid)
    assert f"7th digit (century and sex) is {century_digit}" in verdict.reason


def test_impossible_birth_date_is_rejected() -> None:
    iin = completed("901314" + "3" + "0123")
    verdict = validate_iin(iin)
    assert isinstance(verdict, Invalid)
    assert "(901314) are not a real birth date" in verdict.reason


def test_leap_day_is_checked_against_the_century_from_the_7th_digit() -> None:
    # given 29 February of year "00": 1900 was not a leap year, 2000 was
    born_1900 = completed("000229" + "3" + "0001")
    born_2000 = make_iin(date(2000, 2, 29), "MALE", 1)
    # then only the 2000s reading is a real date
    assert isinstance(validate_iin(born_1900), Invalid)
    assert born_2000 is not None
    assert born_2000[:7] == "0002295"
    assert validate_iin(born_2000) == Valid()


def test_birth_date_that_disagrees_with_the_record_is_rejected() -> None:
    verdict = validate_iin("900514301239", birth_date=date(1990, 5, 15))
    assert verdict == Invalid(
        "IIN 900514301239: encodes birth date 1990-05-14, but the record says 1990-05-15"
    )


def test_sex_that_disagrees_with_the_record_is_rejected() -> None:
    verdict = validate_iin("900514301239", sex="FEMALE")
    assert verdict == Invalid("IIN 900514301239: 7th digit 3 means MALE, but the record says FEMALE")


def test_unknown_sex_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="'M'"):
        validate_iin("900514301239", sex="M")


# --- check digit ----------------------------------------------------------------------------------


def test_check_digit_uses_the_first_weights_when_they_give_a_digit() -> None:
    # 9*1 + 0*2 + 0*3 + 5*4 + 1*5 + 4*6 + 3*7 + 0*8 + 1*9 + 2*10 + 3*11 = 141 = 12*11 + 9
    assert iin_check_digit("90051430123") == 9


def test_check_digit_falls_back_to_the_second_weights_on_remainder_10() -> None:
    # given digits whose first-weight sum is 109 = 9*11 + 10
    # then the second weights give 9*3 + 5*6 + 1*7 + 4*8 + 3*9 + 3*1 = 126 = 11*11 + 5
    assert iin_check_digit("90051430030") == 5
    assert validate_iin("900514300305") == Valid()


def test_digits_with_remainder_10_under_both_weights_have_no_check_digit() -> None:
    # given digits whose sums are 197 (first weights) and 142 (second weights), both 10 mod 11
    assert iin_check_digit("90051430038") is None
    # then no 12th digit makes a valid IIN, and the reason says so
    for last in range(10):
        verdict = validate_iin(f"90051430038{last}")
        assert isinstance(verdict, Invalid)
        assert "admit no check digit" in verdict.reason


@pytest.mark.parametrize("first11", ["9005143012", "900514301239", "9005143012a", "90051430123 "])
def test_check_digit_of_anything_but_eleven_digits_is_a_programming_error(first11: str) -> None:
    with pytest.raises(ValueError, match="11 digits"):
        iin_check_digit(first11)


# --- generating IINs ------------------------------------------------------------------------------


@given(valid_iins())
def test_generated_iin_is_valid_for_its_birth_date_and_sex(generated: tuple[str, date, str]) -> None:
    # given an IIN made for a birth date in 1850-2099, a sex and a serial
    iin, birth, sex = generated
    # then it validates against exactly that birth date and sex
    assert validate_iin(iin, birth_date=birth, sex=sex) == Valid()


def test_make_iin_returns_none_for_a_serial_without_check_digit() -> None:
    assert make_iin(date(1990, 5, 14), "MALE", 38) is None


def test_make_iin_lays_out_date_century_serial_and_check() -> None:
    assert make_iin(date(1990, 5, 14), "MALE", 123) == "900514301239"
    assert make_iin(date(1985, 11, 22), "FEMALE", 456) == "851122404567"


@pytest.mark.parametrize(
    ("birth", "sex", "serial"),
    [
        (date(1799, 12, 31), "MALE", 1),
        (date(2100, 1, 1), "MALE", 1),
        (date(1990, 5, 14), "MALE", -1),
        (date(1990, 5, 14), "MALE", 10_000),
        (date(1990, 5, 14), "male", 1),
    ],
)
def test_make_iin_refuses_what_an_iin_cannot_encode(birth: date, sex: str, serial: int) -> None:
    with pytest.raises(ValueError, match=r"1800-2099|0-9999|'MALE' or 'FEMALE'"):
        make_iin(birth, sex, serial)


# --- what the check digit catches: property tests -------------------------------------------------


@given(valid_iins())
def test_changing_the_check_digit_is_always_caught(generated: tuple[str, date, str]) -> None:
    iin = generated[0]
    for digit in set(range(10)) - {int(iin[11])}:
        assert isinstance(validate_iin(with_digit(iin, 12, digit)), Invalid)


@given(valid_iins())
def test_single_digit_change_in_digits_1_to_10_is_caught_unless_second_weights_are_involved(
    generated: tuple[str, date, str],
) -> None:
    # given a valid IIN and every change of one of its digits 1-10 to another digit
    iin = generated[0]
    for position, digit in itertools.product(range(1, 11), range(10)):
        changed = with_digit(iin, position, digit)
        if changed == iin or needs_second_weights(iin) or needs_second_weights(changed):
            continue
        # then each change that stays with the first weights is rejected
        assert isinstance(validate_iin(changed), Invalid), changed


@given(valid_iins())
def test_changing_the_eleventh_digit_goes_unnoticed_under_the_first_weights(
    generated: tuple[str, date, str],
) -> None:
    # given a valid IIN whose check digit comes from the first weights
    iin = generated[0]
    assume(not needs_second_weights(iin))
    # when its 11th digit (weight 11, i.e. 0 mod 11) is changed
    # then the result still validates: a known blind spot of the algorithm
    for digit in set(range(10)) - {int(iin[10])}:
        assert validate_iin(with_digit(iin, 11, digit)) == Valid()


@given(iins_needing_second_weights())
def test_changing_the_eleventh_digit_is_caught_under_the_second_weights(iin: str) -> None:
    for digit in set(range(10)) - {int(iin[10])}:
        assert isinstance(validate_iin(with_digit(iin, 11, digit)), Invalid)


@given(valid_iins())
def test_adjacent_swap_is_caught_unless_second_weights_are_involved(generated: tuple[str, date, str]) -> None:
    # given a valid IIN and every swap of two different adjacent digits among digits 1-11
    iin = generated[0]
    for position in range(1, 11):
        changed = swapped(iin, position)
        if changed == iin or needs_second_weights(iin) or needs_second_weights(changed):
            continue
        # then each swap that stays with the first weights is rejected
        assert isinstance(validate_iin(changed), Invalid), changed


@given(st.one_of(valid_iins().map(lambda generated: generated[0]), iins_needing_second_weights()))
def test_swapping_the_eleventh_digit_with_the_check_digit_is_always_caught(iin: str) -> None:
    assume(iin[10] != iin[11])
    assert isinstance(validate_iin(swapped(iin, 11)), Invalid)


# --- what the check digit catches: exhaustive over residues ---------------------------------------


def representatives(fixed: set[int]) -> dict[tuple[int, int], list[int]]:
    """One 11-digit list per pair (first-weight sum, second-weight sum) mod 11, zero at ``fixed``.

    The check digit depends only on these two sums, so changing the digits at ``fixed`` behaves
    the same way in every number that shares the sums of the other digits.
    """
    free = [i for i in range(11) if i not in fixed][:3]
    found: dict[tuple[int, int], list[int]] = {}
    for values in itertools.product(range(10), repeat=len(free)):
        digits = [0] * 11
        for i, value in zip(free, values, strict=True):
            digits[i] = value
        sums = (
            sum(w * d for w, d in zip(FIRST_WEIGHTS, digits, strict=True)) % 11,
            sum(w * d for w, d in zip(SECOND_WEIGHTS, digits, strict=True)) % 11,
        )
        found.setdefault(sums, digits)
    assert len(found) == 121, "three free digits reach every pair of residues"
    return found


def as_number(digits: list[int]) -> str | None:
    first11 = "".join(map(str, digits))
    check = iin_check_digit(first11)
    return None if check is None else f"{first11}{check}"


@pytest.mark.parametrize("position", range(1, 12))
def test_single_digit_changes_exhaustively(position: int) -> None:
    """Every residue class, old digit and new digit: exactly the guarantees of the module docstring."""
    for rest in representatives({position - 1}).values():
        for old, new in itertools.permutations(range(10), 2):
            original = as_number([*rest[: position - 1], old, *rest[position:]])
            if original is None:
                continue
            changed = with_digit(original, position, new)
            caught = iin_check_digit(changed[:11]) != int(changed[11])
            if position == 11:
                assert caught == needs_second_weights(original)
            elif not (needs_second_weights(original) or needs_second_weights(changed)):
                assert caught


@pytest.mark.parametrize("position", range(1, 11))
def test_adjacent_swaps_exhaustively(position: int) -> None:
    """Every residue class and pair of different digits at ``position`` and ``position + 1``."""
    for rest in representatives({position - 1, position}).values():
        for left, right in itertools.permutations(range(10), 2):
            digits = rest.copy()
            digits[position - 1 : position + 1] = [left, right]
            original = as_number(digits)
            if original is None:
                continue
            changed = swapped(original, position)
            caught = iin_check_digit(changed[:11]) != int(changed[11])
            if not (needs_second_weights(original) or needs_second_weights(changed)):
                assert caught


# --- BIN ------------------------------------------------------------------------------------------


def test_bin_of_a_resident_legal_entity_is_valid() -> None:
    # given a BIN registered March 2005, type 4 (resident legal entity), attribute 0
    assert validate_bin(completed("05034000123")) == Valid()


@given(valid_bins())
def test_generated_bin_is_valid(bin_: str) -> None:
    assert validate_bin(bin_) == Valid()


@pytest.mark.parametrize("month", ["00", "13", "99"])
def test_bin_with_impossible_registration_month_is_rejected(month: str) -> None:
    verdict = validate_bin(completed(f"05{month}4000123"))
    assert isinstance(verdict, Invalid)
    assert f"(registration month) are {month}, expected 01-12" in verdict.reason


@pytest.mark.parametrize("entity_type", ["0", "1", "2", "3", "7", "8", "9"])
def test_bin_with_unknown_entity_type_is_rejected(entity_type: str) -> None:
    verdict = validate_bin(completed(f"0503{entity_type}000123"))
    assert isinstance(verdict, Invalid)
    assert f"5th digit (entity type) is {entity_type}" in verdict.reason


def test_bin_with_wrong_check_digit_names_the_expected_digit() -> None:
    good = completed("05034000123")
    bad = with_digit(good, 12, (int(good[11]) + 1) % 10)
    assert validate_bin(bad) == Invalid(f"BIN {bad}: check digit is {bad[11]}, expected {good[11]}")


@pytest.mark.parametrize("value", ["", "0503400012", "05034000123x", "050340001234 "])
def test_bin_that_is_not_twelve_digits_is_rejected(value: str) -> None:
    assert isinstance(validate_bin(value), Invalid)


@given(valid_bins())
def test_bin_digit_changes_are_caught_like_iin_changes(bin_: str) -> None:
    """BINs share the IIN check digit, so they share its guarantees (and its 11th-digit blind spot)."""
    for position, digit in itertools.product((*range(1, 11), 12), range(10)):
        changed = with_digit(bin_, position, digit)
        if changed == bin_ or needs_second_weights(bin_) or needs_second_weights(changed):
            continue
        assert isinstance(validate_bin(changed), Invalid), changed
