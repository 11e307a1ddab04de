"""A citizen's wallet on the real path: consent → provider change → processor → materialiser → GET."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import httpx

from bus.event.envelope import ChangeKind
from bus.wallet.store import WALLET
from connectors.sdk import Change
from tests.people import person
from tests.support.eventually import eventually_sync
from tests.support.world import update
from tests.tracker.stack import Stack
from tests.wallet.conftest import PURPOSE, WalletStack


def consent(stack: Stack, iin: str, action: str, **extra: str) -> dict[str, Any]:
    body = {"subject": iin, "consumer": WALLET, "purpose": PURPOSE, "action": action, **extra}
    response = stack.post("/v1/consent", "portal", body)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def wallet_token(stack: Stack, iin: str) -> str:
    response = stack.post("/v1/wallet/tokens", "portal", {"iin": iin})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def read(stack: Stack, iin: str, token: str | None, who: str | None = "portal") -> httpx.Response:
    headers = stack.headers(who) if who else {}
    if token is not None:
        headers["X-Wallet-Token"] = token
    return httpx.get(f"{stack.url}/v1/wallet/{iin}/records", headers=headers)


def records(stack: Stack, iin: str, token: str) -> list[dict[str, Any]]:
    response = read(stack, iin, token)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["records"]
    return found


def tracker_items(stack: Stack, iin: str) -> list[dict[str, Any]]:
    response = stack.get(f"/v1/audit/subjects/{iin}", "portal", consumer=WALLET)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def test_after_consent_an_address_change_reaches_the_wallet(wallet: WalletStack) -> None:
    stack, citizen = wallet.stack, person(9501)
    token = wallet_token(stack, citizen["iin"])
    consent(stack, citizen["iin"], "grant")
    stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    eventually_sync(lambda: records(stack, citizen["iin"], token))
    # when the civil registry records a move
    moved = {**citizen["registered_address"], "settlement": "Astana", "region": "Astana", "building": "55"}
    started = time.monotonic()
    [event_id] = stack.run(
        stack.world.publish(update(citizen, ["registered_address"], registered_address=moved))
    )
    # then the wallet shows the new address, with the provider and the time of the change
    [item] = eventually_sync(
        lambda: [r for r in records(stack, citizen["iin"], token) if r["event_id"] == event_id], every_s=0.02
    )
    print(f"address change visible in the wallet after {time.monotonic() - started:.3f} s")
    assert item["record_type"] == "person"
    assert item["provider"] == {"id": stack.world.provider, "name": "Civil registry"}
    assert item["agreement"] == wallet.agreement.id
    assert item["record"]["registered_address"]["settlement"] == "Astana"
    assert item["record"]["birth_date"] == citizen["birth_date"].isoformat()
    assert set(item["record"]) == set(wallet.agreement.fields)  # the projection, nothing more
    # and the tracker shows the delivery to the wallet like any other
    delivered = [i for i in tracker_items(stack, citizen["iin"]) if i["event_id"] == event_id]
    assert [(i["decision"], i["consumer"]["id"], i["consumer"]["name"]) for i in delivered] == [
        ("delivered", WALLET, "Citizen wallet")
    ]


def test_another_citizens_token_cannot_read_a_wallet(wallet: WalletStack) -> None:
    stack, owner, other = wallet.stack, person(9502), person(9503)
    consent(stack, owner["iin"], "grant")
    stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", owner["iin"], owner)))
    eventually_sync(lambda: records(stack, owner["iin"], wallet_token(stack, owner["iin"])))
    # another person's wallet token, no wallet token, a forged one: 403, naming why
    others = read(stack, owner["iin"], wallet_token(stack, other["iin"]))
    assert others.status_code == 403
    assert "another person" in others.json()["message"]
    assert read(stack, owner["iin"], None).status_code == 403
    forged = wallet_token(stack, other["iin"]).replace(other["iin"], owner["iin"])
    assert read(stack, owner["iin"], forged).status_code == 403
    # agencies and auditors never read record values from the wallet, even with the right token
    right = wallet_token(stack, owner["iin"])
    for who in ("tax", "auditor", "civil"):
        assert read(stack, owner["iin"], right, who).status_code == 403, who
        assert stack.post("/v1/wallet/tokens", who, {"iin": owner["iin"]}).status_code == 403, who
    assert read(stack, owner["iin"], right, None).status_code == 401


def test_a_wallet_token_is_only_issued_for_a_valid_iin(wallet: WalletStack) -> None:
    response = wallet.stack.post("/v1/wallet/tokens", "portal", {"iin": "900514301230"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "iin"


def test_without_consent_nothing_reaches_the_wallet(wallet: WalletStack) -> None:
    stack, citizen = wallet.stack, person(9504)
    [event_id] = stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    refusal = eventually_sync(
        lambda: next((i for i in tracker_items(stack, citizen["iin"]) if i["event_id"] == event_id), None)
    )
    assert (refusal["decision"], refusal["reason"]) == ("denied", "consent_missing")
    assert records(stack, citizen["iin"], wallet_token(stack, citizen["iin"])) == []


def test_after_a_revoke_the_next_change_is_refused_and_the_wallet_forgets(wallet: WalletStack) -> None:
    stack, citizen = wallet.stack, person(9505)
    token = wallet_token(stack, citizen["iin"])
    consent(stack, citizen["iin"], "grant")
    stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    eventually_sync(lambda: records(stack, citizen["iin"], token))
    # when the person revokes, and then the civil registry changes their surname
    consent(stack, citizen["iin"], "revoke")
    [renamed] = stack.run(stack.world.publish(update(citizen, ["surname"], surname="Renamed")))
    # then the tracker shows that change refused for consent_revoked
    refusal = eventually_sync(
        lambda: next((i for i in tracker_items(stack, citizen["iin"]) if i["event_id"] == renamed), None)
    )
    assert (refusal["decision"], refusal["reason"], refusal["fields"]) == ("denied", "consent_revoked", [])
    # and the wallet no longer holds what it received under that consent
    eventually_sync(lambda: records(stack, citizen["iin"], token) == [])


def test_consent_that_expires_lets_a_change_before_it_through_and_refuses_one_after(
    wallet: WalletStack,
) -> None:
    stack, citizen = wallet.stack, person(9507)

    async def two_changes_around_the_end() -> tuple[str, str, dict[str, Any]]:
        async with stack.world.publisher() as publisher:  # started first: its start-up takes no window time
            # given consent valid for the next 2 seconds
            until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
            granted = await asyncio.to_thread(
                consent, stack, citizen["iin"], "grant", valid_until=until.isoformat()
            )
            # when the civil registry records a change before the end, and another after it
            [before] = await publisher.publish_many(
                [Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)]
            )
            await asyncio.sleep(max(0.0, (until - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
            [after] = await publisher.publish_many([update(citizen, ["surname"], surname="Renamed")])
        return before, after, granted

    created, renamed, granted = stack.run(two_changes_around_the_end())
    assert granted["state"] == "granted"

    # then the first was delivered (decided by its own time) and the second refused for consent_expired
    def decided() -> dict[str, dict[str, Any]] | None:
        found = {i["event_id"]: i for i in tracker_items(stack, citizen["iin"])}
        return found if {created, renamed} <= found.keys() else None

    decisions = eventually_sync(decided)
    assert decisions[created]["decision"] == "delivered"
    assert (decisions[renamed]["decision"], decisions[renamed]["reason"]) == ("denied", "consent_expired")
    assert "Your consent had expired" in decisions[renamed]["explanation"]


def test_at_the_end_of_a_consent_the_wallet_drops_what_it_held(wallet: WalletStack) -> None:
    stack, citizen = wallet.stack, person(9509)
    token = wallet_token(stack, citizen["iin"])
    # given a record in the wallet under consent that ends in a few seconds
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=6)
    consent(stack, citizen["iin"], "grant", valid_until=until.isoformat())
    stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    assert eventually_sync(lambda: records(stack, citizen["iin"], token))
    assert dt.datetime.now(dt.UTC) < until  # held while the consent still holds
    # then, with nothing else written, the wallet forgets it once the end has passed
    eventually_sync(lambda: records(stack, citizen["iin"], token) == [], timeout_s=30)
    assert dt.datetime.now(dt.UTC) > until


def test_an_end_is_refused_on_a_revoke_and_in_the_past(wallet: WalletStack) -> None:
    stack, iin = wallet.stack, person(9508)["iin"]
    body = {"subject": iin, "consumer": WALLET, "purpose": PURPOSE}
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    for action, until in (("grant", past), ("revoke", future)):
        response = stack.post("/v1/consent", "portal", {**body, "action": action, "valid_until": until})
        assert response.status_code == 422, response.text
        assert response.json()["problems"][0]["field"] == "valid_until"


def test_a_delete_removes_the_record_from_the_wallet(wallet: WalletStack) -> None:
    stack, citizen = wallet.stack, person(9506)
    token = wallet_token(stack, citizen["iin"])
    consent(stack, citizen["iin"], "grant")
    stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    eventually_sync(lambda: records(stack, citizen["iin"], token))
    stack.run(stack.world.publish(Change(ChangeKind.DELETED, "person", citizen["iin"], None)))
    eventually_sync(lambda: records(stack, citizen["iin"], token) == [])
