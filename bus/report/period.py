"""A reporting period: a quarter (``2026-Q4``), a month (``2026-11``) or a year (``2026``), in UTC.

Periods are half-open ``[start, end)`` so consecutive periods never count an entry twice.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bus.errors import ConfigError

_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True, slots=True)
class Period:
    """A named UTC interval ``[start, end)``."""

    name: str
    start: dt.datetime
    end: dt.datetime

    def as_of(self, now: dt.datetime) -> dt.datetime:
        """The moment "current" figures are taken at: the period's end, or now if it has not ended."""
        return min(now, self.end)


def _month_start(year: int, month: int) -> dt.datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def parse_period(text: str) -> Period:
    """``2026-Q4``, ``2026-11`` or ``2026``; anything else is a ``ConfigError`` naming the forms."""
    value = text.strip()
    if found := _QUARTER.match(value):
        year, quarter = int(found[1]), int(found[2])
        first = 3 * (quarter - 1) + 1
        return Period(f"{year}-Q{quarter}", _month_start(year, first), _month_start(year, first + 3))
    if found := _MONTH.match(value):
        year, month = int(found[1]), int(found[2])
        return Period(f"{year}-{month:02d}", _month_start(year, month), _month_start(year, month + 1))
    if found := _YEAR.match(value):
        year = int(found[1])
        return Period(str(year), _month_start(year, 1), _month_start(year + 1, 1))
    raise ConfigError(
        f"{text!r} is not a reporting period",
        hint="use a quarter (2026-Q4), a month (2026-11) or a year (2026)",
    )


def current_quarter(now: dt.datetime) -> Period:
    """The quarter ``now`` falls in (the default period)."""
    return parse_period(f"{now.year}-Q{(now.month - 1) // 3 + 1}")
