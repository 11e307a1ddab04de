"""Delayed disclosure on the real path: hidden from the citizen until due, at once for auditors; the
tracker's clock is frozen before and after the date, and the chain verifies throughout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bus.audit.db import ArchiveStore
from bus.audit.verify import verify_store
from bus.cli import audit
from bus.event.envelope import ChangeKind
from connectors.sdk import Change
from tests.people import person
from tests.support.cli import BusRunner
from tests.support.eventually import eventually_sync
from tests.tracker.stack import Stack

DISCLOSURE = {
    "hidden_until": "P30D",
    "reason": "an investigation is under way",
    "legal_basis": "Code of Criminal Procedure, Art. 201",
}


@pytest.fixture
def frozen(stack: Stack) -> Iterator[list[dt.datetime]]:
    """The tracker's clock, set by the test (restored after)."""
    assert stack.gateway is not None
    tracker = stack.gateway.tracker
    now = [dt.datetime.now(dt.UTC)]
    real, tracker.clock = tracker.clock, lambda: now[0]
    try:
        yield now
    finally:
        tracker.clock = real


def _items(stack: Stack, key: str, who: str) -> list[dict[str, Any]]:
    response = stack.get(f"/v1/audit/subjects/{key}", who)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def _chain_ok(stack: Stack) -> bool:
    store = ArchiveStore(stack.db_url)
    try:
        return verify_store(store, []).ok
    finally:
        store.close()


def test_a_hidden_delivery_reaches_the_citizen_only_when_due(stack: Stack, frozen: list[dt.datetime]) -> None:
    # given an investigation agreement whose deliveries are hidden from the citizen for 30 days
    police = stack.world.agreement(
        "police", ("iin", "surname"), purpose_code="police.investigation", disclosure=DISCLOSURE
    )
    stack.run(stack.world.apply(police))
    citizen = person(9701)
    [event] = stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))

    def police_item(who: str) -> dict[str, Any] | None:
        return next((i for i in _items(stack, citizen["iin"], who) if i["agreement"] == police.id), None)

    # when the police receive it, the auditor sees it at once, marked hidden, with why and until when
    seen = eventually_sync(lambda: police_item("auditor"), timeout_s=30)
    assert (seen["decision"], seen["hidden"], seen["purpose_code"]) == (
        "delivered",
        True,
        "police.investigation",
    )
    due = dt.datetime.fromisoformat(seen["hidden_until"])
    assert dt.timedelta(days=29) < due - dt.datetime.fromisoformat(seen["when"]) <= dt.timedelta(days=30)
    assert "Hidden from the citizen until" in seen["explanation"]
    # then the citizen's view (API and page) leaves it out, though it has the tax delivery of that change
    assert police_item("portal") is None
    assert any(i["event_id"] == event for i in _items(stack, citizen["iin"], "portal"))
    for who in ("portal", "operator"):  # the page is the citizen's view, whoever opens it
        page = httpx.get(f"{stack.url}/tracker/{citizen['iin']}", headers=stack.headers(who)).text
        assert "police agency" not in page
    assert _chain_ok(stack)

    # and once the clock passes the date, the citizen sees it with the reason and the law
    frozen[0] = due + dt.timedelta(seconds=1)
    shown = police_item("portal")
    assert shown is not None
    assert shown["hidden"] is False
    assert "This was hidden from you until" in shown["explanation"]
    assert "an investigation is under way (Code of Criminal Procedure, Art. 201)" in shown["explanation"]
    page = httpx.get(f"{stack.url}/tracker/{citizen['iin']}?lang=ru", headers=stack.headers("portal")).text
    assert "Эта запись была скрыта от вас до" in page
    assert '<code class="purpose-code">police.investigation</code>' in page
    assert _chain_ok(stack)
    # and the scorecard counts the delivery under its purpose code
    card = stack.get("/v1/reports/agencies", "auditor").json()
    assert card["by_purpose"]["police.investigation"]["delivered"] >= 1
    stack.run(stack.world.apply(revoke=[police.id]))


def test_the_cli_shows_the_citizens_view_with_as_citizen(stack: Stack) -> None:
    police = stack.world.agreement("police", ("iin",), disclosure=DISCLOSURE)
    stack.run(stack.world.apply(police))
    citizen = person(9702)
    stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    eventually_sync(
        lambda: any(i["agreement"] == police.id for i in _items(stack, citizen["iin"], "auditor"))
    )
    runner = BusRunner()
    args = ["subject", citizen["iin"], "--db", stack.db_url]
    wide = {"COLUMNS": "400"}  # a table cell is never cut short
    operator = runner.invoke(audit.app, args, env=wide)
    assert operator.exit_code == 0, operator.output
    assert "hidden until" in operator.output
    person_view = runner.invoke(audit.app, [*args, "--as-citizen"], env=wide)
    assert person_view.exit_code == 0, person_view.output
    assert "hidden until" not in person_view.output
    assert police.consumer not in person_view.output
    stack.run(stack.world.apply(revoke=[police.id]))
