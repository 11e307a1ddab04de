"""Webhook delivery on the real broker and registry, to a real HTTP receiver (uvicorn) that verifies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from bus.event.envelope import ChangeKind
from bus.event.serde import frame
from bus.webhooks.message import new_secret
from tests.support.eventually import eventually
from tests.support.world import processor_signed
from tests.webhooks.conftest import RECORD_NAME, HookWorld, Sent
from tests.webhooks.receiver import Answer, Call


def delivered_attempts(agency: str) -> float:
    labels = {"agency": agency, "outcome": "delivered"}
    return REGISTRY.get_sample_value("bus_webhook_attempts_total", labels) or 0.0


def per_key_firsts(calls: list[Call]) -> dict[str, list[int]]:
    """Each key's sequences in arrival order, a repeated webhook-id counted at its first arrival."""
    seen: set[str] = set()
    order: dict[str, list[int]] = {}
    for call in calls:
        assert call.event is not None
        if call.webhook_id not in seen:
            seen.add(call.webhook_id)
            order.setdefault(call.event["subject"], []).append(call.event["sequence"])
    return order


def expected_order(sent: list[Sent]) -> dict[str, list[int]]:
    order: dict[str, list[int]] = {}
    for item in sent:
        order.setdefault(item.key, []).append(item.sequence)
    return order


def parked_headers(record: Any) -> dict[str, str]:
    return {k: bytes(v).decode() for k, v in record.headers}


async def all_accepted(hooks: HookWorld, count: int, timeout_s: float = 30.0) -> None:
    async def check() -> bool:
        return len({c.webhook_id for c in hooks.receiver.accepted}) >= count

    assert await eventually(check, timeout_s=timeout_s), f"{len(hooks.receiver.accepted)} of {count} accepted"


async def test_every_update_arrives_signed_as_a_cloudevent(hooks: HookWorld) -> None:
    # given an agreement with a legal basis and 3 citizens with 3 changes each, the last a delete
    await hooks.apply_agreement("Tax Code, Art. 24")
    sent = await hooks.publish(keys=3, per_key=3, delete_last=True)
    before = delivered_attempts(hooks.agency)
    # when the dispatcher runs
    async with hooks.dispatcher():
        await all_accepted(hooks, len(sent))
    # then every call verified with the agency's secret, once per update, in per-key order
    assert all(c.verified for c in hooks.receiver.calls)
    assert sorted(c.webhook_id for c in hooks.receiver.calls) == sorted(s.event_id for s in sent)
    assert per_key_firsts(hooks.receiver.calls) == expected_order(sent)
    # and the body is a structured CloudEvent whose data is the projected record
    by_id = {c.webhook_id: c.event for c in hooks.receiver.calls}
    first, deleted = by_id[sent[0].event_id], by_id[sent[-1].event_id]
    assert first is not None
    assert deleted is not None
    assert {
        k: first[k] for k in ("specversion", "id", "subject", "type", "datacontenttype", "agreement")
    } == {
        "specversion": "1.0",
        "id": sent[0].event_id,
        "subject": sent[0].key,
        "type": f"{RECORD_NAME}.updated",
        "datacontenttype": "application/json",
        "agreement": hooks.agreement_id,
    }
    assert (first["legalbasis"], first["sequence"], first["changed"]) == ("Tax Code, Art. 24", 1, "surname")
    assert set(first["data"]) == {"iin", "surname", "birth_date"}
    assert first["data"]["birth_date"].count("-") == 2  # an Avro date as ISO 8601
    assert first["source"].startswith(f"/agencies/civil-{hooks.unique}/")
    assert (deleted["type"], deleted["data"]) == (f"{RECORD_NAME}.deleted", None)
    assert hooks.receiver.calls[0].headers["content-type"].startswith("application/cloudevents+json")
    assert delivered_attempts(hooks.agency) - before == len(sent)
    assert await hooks.parked() == []


async def outage_then_recovery(hooks: HookWorld, outage_s: float) -> None:
    # given 4 citizens with 5 changes each, and a receiver that is down (connection refused) for a
    # fifth of the outage and answers 500 for the rest
    sent = await hooks.publish(keys=4, per_key=5)
    failing_until = time.monotonic() + outage_s

    def respond(event: dict[str, Any]) -> Answer:
        return (500, {}, "maintenance") if time.monotonic() < failing_until else (200, {}, "ok")

    hooks.receiver.respond = respond
    await hooks.receiver.down()
    async with hooks.dispatcher():
        await asyncio.sleep(outage_s / 5)
        await hooks.receiver.up()
        # when the receiver recovers
        await all_accepted(hooks, len(sent), timeout_s=outage_s + 30)
    # then it got everything, each webhook-id accepted exactly once, each key in order
    accepted = hooks.receiver.accepted
    assert sorted(c.webhook_id for c in accepted) == sorted(s.event_id for s in sent)
    assert per_key_firsts(accepted) == expected_order(sent)
    assert any(c.status == 500 for c in hooks.receiver.calls)
    assert all(c.at >= failing_until for c in accepted)
    assert await hooks.parked() == []


async def test_receiver_down_then_failing_then_up_gets_everything_in_order(hooks: HookWorld) -> None:
    await outage_then_recovery(hooks, outage_s=6.0)


@pytest.mark.slow
async def test_receiver_failing_for_30_seconds_gets_everything_in_order(hooks: HookWorld) -> None:
    await outage_then_recovery(hooks, outage_s=30.0)


async def test_a_4xx_answer_parks_the_update_with_the_reason(hooks: HookWorld) -> None:
    # given a receiver that refuses the first update of one citizen
    sent = await hooks.publish(keys=2, per_key=2)
    refused = sent[0]

    def respond(event: dict[str, Any]) -> Answer:
        if event["id"] == refused.event_id:
            return 400, {}, '{"error": "unknown taxpayer"}'
        return 200, {}, "ok"

    hooks.receiver.respond = respond
    async with hooks.dispatcher():
        await all_accepted(hooks, len(sent) - 1)
        [parked] = await eventually(hooks.parked)
    # then that update is parked, once, with its bytes, headers and the receiver's answer
    headers = parked_headers(parked)
    assert [c.status for c in hooks.receiver.calls if c.webhook_id == refused.event_id] == [400]
    assert headers["ce_id"] == refused.event_id
    assert (headers["bus_dlq_stage"], headers["bus_dlq_reason"], headers["bus_dlq_status"]) == (
        "webhook",
        "receiver_rejected",
        "400",
    )
    assert hooks.receiver.url in headers["bus_dlq_detail"]
    assert "unknown taxpayer" in headers["bus_dlq_detail"]
    assert headers["bus_dlq_topic"] == hooks.topic
    assert parked.key == refused.key.encode()
    # and the same citizen's next update still arrives
    assert per_key_firsts(hooks.receiver.accepted)[refused.key] == [2]


async def test_a_wrong_secret_fails_verification_at_the_receiver(hooks: HookWorld) -> None:
    # given the webhook registered with a secret the receiver does not hold
    await hooks.register(hooks.receiver.url, new_secret())
    sent = await hooks.publish(keys=1, per_key=2)
    async with hooks.dispatcher():
        parked = await eventually(lambda: _at_least(hooks.parked, len(sent)))
    # then the receiver rejected every call as unverifiable, and the updates were parked with its 401
    assert hooks.receiver.calls
    assert not any(c.verified for c in hooks.receiver.calls)
    assert {parked_headers(p)["bus_dlq_status"] for p in parked} == {"401"}
    assert all("signature does not verify" in parked_headers(p)["bus_dlq_detail"] for p in parked)


async def _at_least(read: Any, count: int) -> list[Any]:
    records: list[Any] = await read()
    return records if len(records) >= count else []


async def test_undecodable_deliveries_are_parked_and_the_dispatcher_keeps_going(hooks: HookWorld) -> None:
    # given an unknown schema id, garbage bytes (both signed, as a processor bug would write them) and a
    # record without CloudEvents headers, then a good update
    good, (key, value, headers) = hooks.delivery(7, 1)
    unknown_id = frame(2_000_000_000, b"\x02")
    bad = processor_signed([(key, unknown_id, headers), (key, b"\x07garbage", headers)])
    await hooks.produce_many(hooks.topic, [*bad, (key, value, []), (key, value, headers)])
    # when the dispatcher reads them
    async with hooks.dispatcher() as dispatcher:
        await all_accepted(hooks, 1)
        parked = await eventually(lambda: _at_least(hooks.parked, 3))
        assert dispatcher.parked == 3
    # then the three bad ones are parked with the decoder's reason, and the good one is delivered
    reasons = sorted(parked_headers(p)["bus_dlq_reason"] for p in parked)
    assert reasons == ["envelope_invalid", "magic_byte_wrong", "schema_id_unknown"]
    assert {parked_headers(p)["bus_dlq_stage"] for p in parked} == {"decode"}
    assert [c.webhook_id for c in hooks.receiver.accepted] == [good.event_id]
    assert sorted(p.value for p in parked) == sorted([unknown_id, b"\x07garbage", value])


async def test_429_with_retry_after_is_honoured(hooks: HookWorld) -> None:
    # given a receiver that throttles the first call for 2 s (backoff alone would wait < 0.4 s)
    sent = await hooks.publish(keys=1, per_key=1)

    def respond(event: dict[str, Any]) -> Answer:
        first = not hooks.receiver.calls
        return (429, {"Retry-After": "2"}, "slow down") if first else (200, {}, "ok")

    hooks.receiver.respond = respond
    async with hooks.dispatcher():
        await all_accepted(hooks, 1)
    # then the retry came after the requested pause
    throttled, accepted = hooks.receiver.calls
    assert (throttled.status, accepted.webhook_id) == (429, sent[0].event_id)
    assert accepted.at - throttled.at >= 1.9


async def test_an_endpoint_that_never_answers_in_time_is_parked_after_the_horizon(hooks: HookWorld) -> None:
    # given a receiver slower than the request timeout, and a 1.5 s horizon on the webhook
    await hooks.register(hooks.receiver.url, hooks.secret, horizon_s=1.5)
    await hooks.publish(keys=1, per_key=1)
    hooks.receiver.delay_s = 1.0
    async with hooks.dispatcher(request_timeout_s=0.3) as dispatcher:
        [parked] = await eventually(hooks.parked)
        assert dispatcher.delivered == 0
    # then it was parked with the last error
    headers = parked_headers(parked)
    assert headers["bus_dlq_reason"] == "horizon_exceeded"
    assert "no answer within 0.3 s" in headers["bus_dlq_detail"]
    assert int(headers["bus_dlq_attempts"]) >= 2


async def test_a_restarted_dispatcher_loses_nothing_and_repeats_only_same_ids(hooks: HookWorld) -> None:
    # given 200 updates of 20 citizens and a receiver that takes 50 ms per call
    sent = await hooks.publish(keys=20, per_key=10)
    hooks.receiver.delay_s = 0.05
    # when the dispatcher is stopped half-way and another one takes over in the same group
    async with hooks.dispatcher(max_in_flight_per_agency=4):
        await all_accepted(hooks, len(sent) // 2)
    first_run = len(hooks.receiver.accepted)
    assert first_run < len(sent)
    async with hooks.dispatcher(max_in_flight_per_agency=4):
        await all_accepted(hooks, len(sent))
    # then every update arrived, repeats carry an id already seen, and each key stayed in order
    ids = [c.webhook_id for c in hooks.receiver.accepted]
    assert set(ids) == {s.event_id for s in sent}
    assert per_key_firsts(hooks.receiver.accepted) == expected_order(sent)
    assert len(ids) - len(set(ids)) <= first_run


async def test_no_update_of_a_key_is_sent_before_the_previous_one_succeeded(hooks: HookWorld) -> None:
    # given a receiver that fails every first attempt of an update
    sent = await hooks.publish(keys=3, per_key=4)
    tried: set[str] = set()

    def respond(event: dict[str, Any]) -> Answer:
        if event["id"] in tried:
            return 200, {}, "ok"
        tried.add(event["id"])
        return 503, {}, "try again"

    hooks.receiver.respond = respond
    async with hooks.dispatcher():
        await all_accepted(hooks, len(sent))
    # then, per key, every call for sequence n+1 came after sequence n was accepted
    for key in {s.key for s in sent}:
        calls = [c for c in hooks.receiver.calls if c.event is not None and c.event["subject"] == key]
        sequences = [c.event["sequence"] for c in calls if c.event is not None]
        assert sequences == [s for s in (1, 2, 3, 4) for _ in range(2)]
    assert {s.kind for s in sent} == {ChangeKind.UPDATED}
