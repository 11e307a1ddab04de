"""Vehicle identification numbers (ISO 3779): 17 characters, digits and letters without I, O, Q.

The 9th character is the North American check digit (49 CFR 565): each character is
transliterated to a number (digits as themselves, A-H = 1-8, J-N = 1-5, P = 7, R = 9,
S-Z = 2-9), weighted 8,7,6,5,4,3,2,10,0,9,8,7,6,5,4,3,2, summed modulo 11; 10 is written X.
"""

from __future__ import annotations

from typing import Final

from bus.validate.result import Invalid, Valid, Verdict

__all__ = ["validate_vin"]

_LENGTH: Final = 17
_CHECK_POSITION: Final = 8  # zero-based: the 9th character
_WEIGHTS: Final = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_FORBIDDEN: Final = "IOQ"
_VALUES: Final[dict[str, int]] = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}


def validate_vin(value: str, *, require_check_digit: bool = True) -> Verdict:
    """Check a VIN's length and alphabet and, unless told not to, its 9th-character check digit.

    ISO 3779 leaves the 9th character free outside North America, so pass ``require_check_digit=False``
    for vehicles made for other markets (many European and Japanese imports) whose VIN has none.
    """
    shown = value if len(value) <= 40 else f"{value[:37]}..."
    if len(value) != _LENGTH:
        return Invalid(f"VIN {shown!r}: must be exactly 17 characters, got {len(value)}")
    for position, ch in enumerate(value, start=1):
        if ch.upper() in _FORBIDDEN:
            return Invalid(
                f"VIN {value}: character {position} is {ch!r}; VINs never use the letters I, O and Q "
                f"(did you mean 1 or 0?)"
            )
        if ch not in _VALUES:
            hint = (
                "write letters in upper case"
                if ch.upper() in _VALUES
                else "only digits and the letters A-Z except I, O, Q are allowed"
            )
            return Invalid(f"VIN {value!r}: character {position} is {ch!r}; {hint}")
    if require_check_digit:
        total = sum(w * _VALUES[ch] for w, ch in zip(_WEIGHTS, value, strict=True)) % 11
        expected = "X" if total == 10 else str(total)
        actual = value[_CHECK_POSITION]
        if actual != expected:
            return Invalid(f"VIN {value}: check digit (9th character) is {actual!r}, expected {expected!r}")
    return Valid()
