"""Kazakhstan land cadastral numbers: ``NN:NNN:NNN:NNNN``.

The parts are the region (2 digits), the district (3 digits), the cadastral quarter
(3 digits) and the parcel within the quarter (1 to 4 digits), e.g. ``21:320:005:1234``.
"""

from __future__ import annotations

import re
from typing import Final

from bus.validate.result import Invalid, Valid, Verdict

__all__ = ["CADASTRAL_NUMBER", "validate_cadastral"]

CADASTRAL_NUMBER: Final = re.compile(
    r"""
    (?P<region>[0-9]{2})      # region (oblast or city of republican significance)
    :(?P<district>[0-9]{3})   # district within the region
    :(?P<quarter>[0-9]{3})    # cadastral quarter within the district
    :(?P<parcel>[0-9]{1,4})   # parcel within the quarter
    """,
    re.VERBOSE,
)
"""The whole format; match it with ``fullmatch``. ASCII digits only, no spaces."""


def validate_cadastral(value: str) -> Verdict:
    """Check that ``value`` is a cadastral number of the form ``NN:NNN:NNN:NNNN``."""
    if CADASTRAL_NUMBER.fullmatch(value):
        return Valid()
    shown = value if len(value) <= 40 else f"{value[:37]}..."
    return Invalid(
        f"cadastral number {shown!r}: expected region:district:quarter:parcel as "
        f"2:3:3:1-4 digits separated by colons, e.g. 21:320:005:1234"
    )
