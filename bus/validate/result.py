"""The verdict every validator returns: ``Valid()`` or ``Invalid(reason)``.

Both are tiny frozen values, so callers can compare them, keep them in sets, or match on them::

    match validate_iin(value):
        case Invalid(reason):
            reject(reason)
        case Valid():
            accept()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, TypeAlias

__all__ = ["Invalid", "Valid", "Verdict"]


@dataclass(frozen=True, slots=True)
class Valid:
    """The identifier passed every check."""

    ok: ClassVar[Literal[True]] = True


@dataclass(frozen=True, slots=True)
class Invalid:
    """The identifier failed a check; ``reason`` says which, in words a clerk can act on."""

    reason: str
    ok: ClassVar[Literal[False]] = False


Verdict: TypeAlias = Valid | Invalid
