"""A subject's archived entries: newest first, page by page, filtered."""

from __future__ import annotations

import datetime as dt

import pytest

from bus.audit.db import ArchiveStore
from bus.audit.entry import Decision
from bus.audit.errors import AuditQueryError
from bus.audit.query import SubjectQuery, subject_entries
from tests.audit.conftest import T0, AuditWorld

SUBJECT = "900514300001"


@pytest.fixture
async def store(audit: AuditWorld) -> ArchiveStore:
    await audit.produce(40, subject=SUBJECT)
    await audit.produce(20, start=40)
    await audit.archive(audit.sqlite_url(), 60)
    return ArchiveStore(audit.sqlite_url())


async def test_pages_run_newest_first_without_overlap(store: ArchiveStore) -> None:
    # given 40 entries about one subject
    # when they are read 15 at a time
    pages, cursor = [], None
    while True:
        page = await subject_entries(store, SubjectQuery(SUBJECT, limit=15, cursor=cursor))
        pages.append(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            break
    # then three pages hold all 40, newest first
    times = [e.time for entries in pages for e in entries]
    assert [len(p) for p in pages] == [15, 15, 10]
    assert times == sorted(times, reverse=True)
    assert {e.event_id for p in pages for e in p} == {f"event-{n}" for n in range(40)}


async def test_filters_narrow_by_period_consumer_decision_and_agency(store: ArchiveStore) -> None:
    # given 40 entries about one subject, a quarter to each of tax, police, health and denied
    async def ids(**filters: object) -> set[str]:
        page = await subject_entries(store, SubjectQuery(SUBJECT, limit=100, **filters))  # type: ignore[arg-type]
        return {e.event_id for e in page.entries}

    # when filtered / then only matching entries come back
    assert await ids(consumer="tax") == {f"event-{n}" for n in range(0, 40, 4)}
    assert await ids(decision=Decision.DENIED) == {f"event-{n}" for n in range(3, 40, 4)}
    assert await ids(agency="police") == {f"event-{n}" for n in range(1, 40, 4)}
    assert len(await ids(agency="civil-registry")) == 40
    period = {"since": T0 + dt.timedelta(milliseconds=10), "until": T0 + dt.timedelta(milliseconds=20)}
    assert await ids(**period) == {f"event-{n}" for n in range(10, 20)}


async def test_a_cursor_that_was_not_issued_is_refused(store: ArchiveStore) -> None:
    with pytest.raises(AuditQueryError, match="cursor"):
        await subject_entries(store, SubjectQuery(SUBJECT, cursor="not-a-cursor"))
