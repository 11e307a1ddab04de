"""POST /v1/consent and GET /v1/consent/subjects/{key}: who may write and read, checks, read-your-writes."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import pytest

from bus.event.topics import SystemTopic
from tests.people import person
from tests.tracker.stack import Stack

C, D = person(9201), person(9202)


def change(stack: Stack, key: str, action: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "subject": key,
        "consumer": stack.health.consumer,
        "purpose": stack.health.purpose,
        "action": action,
        "channel": "egov",
    }
    return {**body, **overrides}


def consents(stack: Stack, key: str, who: str) -> list[dict[str, Any]]:
    response = stack.get(f"/v1/consent/subjects/{key}", who)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["consents"]
    return found


def test_the_portal_grants_and_the_next_read_shows_it(stack: Stack) -> None:
    # when the portal records C's consent
    response = stack.post("/v1/consent", "portal", change(stack, C["iin"], "grant"))
    # then the stored record comes back and is visible at once, to the portal and to the consumer
    assert response.status_code == 201, response.text
    stored = response.json()
    assert {k: stored[k] for k in ("subject", "consumer", "purpose", "status", "channel")} == {
        "subject": C["iin"],
        "consumer": stack.health.consumer,
        "purpose": stack.health.purpose,
        "status": "granted",
        "channel": "egov",
    }
    assert consents(stack, C["iin"], "portal") == [stored]
    assert consents(stack, C["iin"], "health") == [stored]
    # and a grant without an end is written as before ends existed (readable by older processors)
    written = [
        r.value for r in stack.run(stack.world.records(SystemTopic.CONSENT)) if C["iin"].encode() in r.key
    ]
    assert written
    assert all(b"valid_until" not in value for value in written)


def test_a_revoke_replaces_the_grant(stack: Stack) -> None:
    assert stack.post("/v1/consent", "operator", change(stack, D["iin"], "grant")).status_code == 201
    assert stack.post("/v1/consent", "portal", change(stack, D["iin"], "revoke")).status_code == 201
    [latest] = consents(stack, D["iin"], "auditor")
    assert latest["status"] == "revoked"


def test_the_page_shows_a_consents_end_and_then_that_it_expired(stack: Stack) -> None:
    key = person(9203)["iin"]
    almaty = dt.timezone(dt.timedelta(hours=5))  # the portal sends local time
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).replace(microsecond=0)  # 1-2 s ahead
    body = change(stack, key, "grant", valid_until=until.astimezone(almaty).isoformat())
    assert stack.post("/v1/consent", "portal", body).status_code == 201
    [stored] = consents(stack, key, "portal")
    kept = dt.datetime.fromisoformat(stored["valid_until"])
    assert (kept, kept.utcoffset()) == (until, dt.timedelta(0))  # the same moment, kept in UTC
    assert stored["state"] == "granted"

    def row(html: str) -> str:
        return html[html.index(f'data-consumer="{stack.health.consumer}"') :].split("</tr>")[0]

    page = httpx.get(f"{stack.url}/tracker/{key}?lang=en", headers=stack.headers("portal")).text
    assert 'data-status="granted"' in row(page)
    assert f'<td class="until"><time datetime="{until.isoformat()}">' in row(page)
    time.sleep(max(0.0, (until - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
    page = httpx.get(f"{stack.url}/tracker/{key}?lang=en", headers=stack.headers("portal")).text
    assert 'data-status="expired"' in row(page)
    assert 'value="grant"' in row(page)  # the person may grant again
    [stored] = consents(stack, key, "portal")
    assert (stored["status"], stored["state"]) == ("granted", "expired")


@pytest.mark.parametrize("who", ["health", "tax", "auditor"])
def test_agencies_and_auditors_may_not_change_a_citizens_consent(stack: Stack, who: str) -> None:
    response = stack.post("/v1/consent", who, change(stack, C["iin"], "revoke"))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "citizen portal" in response.json()["hint"]


def test_no_token_is_401(stack: Stack) -> None:
    assert stack.post("/v1/consent", None, change(stack, C["iin"], "grant")).status_code == 401
    assert httpx.get(f"{stack.url}/v1/consent/subjects/{C['iin']}").status_code == 401


def test_a_consent_for_another_agency_is_not_shown_to_an_agency(stack: Stack) -> None:
    stack.post("/v1/consent", "portal", change(stack, C["iin"], "grant"))
    assert consents(stack, C["iin"], "tax") == []
    assert consents(stack, C["iin"], "police") == []


def test_an_unknown_key_has_no_consents(stack: Stack) -> None:
    assert consents(stack, person(9299)["iin"], "portal") == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": "900514301230"}, "subject"),  # wrong check digit
        ({"subject": "not-an-iin"}, "subject"),
        ({"consumer": "no-such-agency"}, "consumer"),
        ({"purpose": "   "}, "purpose"),
    ],
)
def test_a_bad_change_is_422_naming_the_field(stack: Stack, overrides: dict[str, str], field: str) -> None:
    response = stack.post("/v1/consent", "portal", change(stack, C["iin"], "grant", **overrides))
    assert response.status_code == 422, response.text
    assert [p["field"] for p in response.json()["problems"]] == [field]


def test_a_portal_may_not_name_itself_as_consumer(stack: Stack) -> None:
    body = change(stack, C["iin"], "grant", consumer=f"portal-{stack.world.unique}")
    response = stack.post("/v1/consent", "portal", body)
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "consumer"


def test_an_unknown_action_or_channel_is_refused(stack: Stack) -> None:
    assert stack.post("/v1/consent", "portal", change(stack, C["iin"], "maybe")).status_code == 422
    body = change(stack, C["iin"], "grant", channel="carrier-pigeon")
    assert stack.post("/v1/consent", "portal", body).status_code == 422
