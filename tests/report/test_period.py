"""Reporting periods: quarters, months and years, half-open in UTC; anything else is named."""

from __future__ import annotations

import datetime as dt

import pytest

from bus.errors import ConfigError
from bus.report.period import current_quarter, parse_period

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q4", dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-q1", dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC)),
        ("2026-12", dt.datetime(2026, 12, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026", dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_periods_are_half_open_utc_intervals(text: str, start: dt.datetime, end: dt.datetime) -> None:
    period = parse_period(text)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "Q4", "last week", ""])
def test_anything_else_is_a_config_error_naming_the_forms(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_period(text)
    assert "2026-Q4" in raised.value.hint


def test_the_default_is_the_current_quarter_and_as_of_is_capped_by_now() -> None:
    now = dt.datetime(2026, 11, 5, 8, 30, tzinfo=UTC)
    period = current_quarter(now)
    assert period.name == "2026-Q4"
    assert period.as_of(now) == now
    assert parse_period("2026-Q3").as_of(now) == dt.datetime(2026, 10, 1, tzinfo=UTC)
