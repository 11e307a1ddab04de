"""Kazakhstan IIN (individuals) and BIN (legal entities): 12 digits ending in a check digit.

IIN layout: ``YYMMDD`` birth date, a century-and-sex digit, a 4-digit serial, the check digit.
The 7th digit is 1/2 for a man/woman born in the 1800s, 3/4 in the 1900s, 5/6 in the 2000s.

BIN layout: ``YYMM`` registration year and month, an entity-type digit (4 resident legal
entity, 5 non-resident, 6 individual entrepreneur or joint activity), an attribute digit,
a 5-digit serial, the check digit.

Check digit (both): the sum of digits 1-11 weighted 1..11, modulo 11. A remainder of 10 is
not a digit, so the sum is redone with weights 3,4,5,6,7,8,9,10,11,1,2; if that is 10 too,
the first eleven digits have no check digit and no such number can be issued.

What the check digit catches (verified exhaustively over all residues, see the unit tests):
a changed check digit, and a swap of the 11th digit with it, are always caught. The 11th
digit has weight 11, which is 0 modulo 11, so changing it goes unnoticed whenever the first
weights give the check digit (11 valid numbers in 12). Any other single-digit change, and
any swap of two different adjacent digits, is caught unless the original or the altered
number needs the second weights (about 1.7 % of such changes slip through that way).
"""

from __future__ import annotations

from datetime import date
from typing import Final

from bus.validate.result import Invalid, Valid, Verdict

__all__ = ["iin_check_digit", "make_iin", "validate_bin", "validate_iin"]

_LENGTH: Final = 12
_FIRST_WEIGHTS: Final = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND_WEIGHTS: Final = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_NOT_A_DIGIT: Final = 10
_SEXES: Final = ("MALE", "FEMALE")
_FIRST_CENTURY: Final = 1800
_LAST_YEAR: Final = 2099
_SERIAL_MAX: Final = 9999
_ENTITY_TYPES: Final = {
    "4": "resident legal entity",
    "5": "non-resident legal entity",
    "6": "individual entrepreneur or joint activity",
}


def iin_check_digit(first11: str) -> int | None:
    """The check digit for the first eleven digits of an IIN or BIN; ``None`` when there is none.

    Raises ``ValueError`` unless ``first11`` is exactly eleven ASCII digits.
    """
    if len(first11) != _LENGTH - 1 or not _all_digits(first11):
        raise ValueError(f"expected exactly 11 digits, got {first11!r}")
    digits = [int(ch) for ch in first11]
    for weights in (_FIRST_WEIGHTS, _SECOND_WEIGHTS):
        remainder = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if remainder != _NOT_A_DIGIT:
            return remainder
    return None


def validate_iin(value: str, *, birth_date: date | None = None, sex: str | None = None) -> Verdict:
    """Check an IIN's form, birth date, century digit and check digit.

    When ``birth_date`` or ``sex`` (``"MALE"``/``"FEMALE"``) come with the record, the IIN must
    agree with them. Raises ``ValueError`` for any other ``sex``.
    """
    if sex is not None:
        _require_sex(sex)
    if problem := _form_problem("IIN", value):
        return problem
    label = f"IIN {value}"
    century_digit = int(value[6])
    if not 1 <= century_digit <= 6:
        return Invalid(f"{label}: 7th digit (century and sex) is {century_digit}, expected 1-6")
    century = _FIRST_CENTURY + 100 * ((century_digit - 1) // 2)
    try:
        encoded = date(century + int(value[0:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:
        return Invalid(
            f"{label}: digits 1-6 ({value[:6]}) are not a real birth date YYMMDD in the {century}s "
            f"(7th digit {century_digit})"
        )
    if problem := _check_digit_problem(label, value):
        return problem
    if birth_date is not None and birth_date != encoded:
        return Invalid(
            f"{label}: encodes birth date {encoded.isoformat()}, but the record says {birth_date.isoformat()}"
        )
    encoded_sex = _SEXES[(century_digit - 1) % 2]
    if sex is not None and sex != encoded_sex:
        return Invalid(f"{label}: 7th digit {century_digit} means {encoded_sex}, but the record says {sex}")
    return Valid()


def validate_bin(value: str) -> Verdict:
    """Check a BIN's form, registration month, entity-type digit and check digit."""
    if problem := _form_problem("BIN", value):
        return problem
    label = f"BIN {value}"
    if not 1 <= int(value[2:4]) <= 12:
        return Invalid(f"{label}: digits 3-4 (registration month) are {value[2:4]}, expected 01-12")
    if value[4] not in _ENTITY_TYPES:
        *others, last = (f"{digit} ({meaning})" for digit, meaning in _ENTITY_TYPES.items())
        expected = f"{', '.join(others)} or {last}"
        return Invalid(f"{label}: 5th digit (entity type) is {value[4]}, expected {expected}")
    if problem := _check_digit_problem(label, value):
        return problem
    return Valid()


def make_iin(birth: date, sex: str, serial: int) -> str | None:
    """A valid IIN for this birth date, sex and 4-digit serial; ``None`` if the serial has no check digit.

    Raises ``ValueError`` for a year outside 1800-2099, a serial outside 0-9999 or an unknown sex.
    """
    _require_sex(sex)
    if not _FIRST_CENTURY <= birth.year <= _LAST_YEAR:
        raise ValueError(f"IINs encode birth years 1800-2099, got {birth.year}")
    if not 0 <= serial <= _SERIAL_MAX:
        raise ValueError(f"IIN serial must be 0-9999, got {serial}")
    century_digit = 2 * ((birth.year - _FIRST_CENTURY) // 100) + 1 + _SEXES.index(sex)
    first11 = f"{birth:%y%m%d}{century_digit}{serial:04d}"
    check = iin_check_digit(first11)
    return None if check is None else f"{first11}{check}"


def _require_sex(sex: str) -> None:
    if sex not in _SEXES:
        raise ValueError(f"sex must be 'MALE' or 'FEMALE', got {sex!r}")


def _all_digits(text: str) -> bool:
    return all("0" <= ch <= "9" for ch in text)


def _form_problem(kind: str, value: str) -> Invalid | None:
    shown = value if len(value) <= 40 else f"{value[:37]}..."
    if len(value) != _LENGTH:
        return Invalid(f"{kind} {shown!r}: must be exactly 12 digits, got {len(value)} characters")
    for position, ch in enumerate(value, start=1):
        if not "0" <= ch <= "9":
            return Invalid(f"{kind} {shown!r}: character {position} is {ch!r}, only digits 0-9 are allowed")
    return None


def _check_digit_problem(label: str, value: str) -> Invalid | None:
    expected = iin_check_digit(value[:11])
    if expected is None:
        return Invalid(f"{label}: digits 1-11 admit no check digit, so no such number can be issued")
    if int(value[11]) != expected:
        return Invalid(f"{label}: check digit is {value[11]}, expected {expected}")
    return None
