"""The dispatcher posts only what the processor signed, and each body carries that proof, which a
receiver verifies with the documented example (docs/webhooks.md) or ``verify_busproof``."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bus.directory.model import PROCESSOR_IDENTITY
from bus.event.signed_delivery import PROOF_HEADERS, sign_deliveries
from bus.event.signed_event import Signer
from bus.event.signing import SignatureError, public_key_from_text
from bus.event.topics import deliver, spec_for
from bus.kafka.client import create_topics
from bus.webhooks.message import verify_busproof
from tests.conftest import REPO
from tests.support.eventually import eventually
from tests.webhooks.conftest import HookWorld
from tests.webhooks.test_dispatcher import all_accepted, parked_headers

Verify = Any  # the documented function: (event, {key id: public key}) -> None


def _documented_verify() -> Verify:
    """The ``busproof`` example of docs/webhooks.md, run as written."""
    text = (REPO / "docs" / "webhooks.md").read_text()
    code = re.search(r"<!-- busproof-example -->\n```python\n(.*?)```", text, re.S)
    assert code is not None, "docs/webhooks.md lost its busproof example"
    scope: dict[str, Any] = {}
    exec(compile(code.group(1), "docs/webhooks.md", "exec"), scope)
    return scope["verify"]


def _processor_keys(hooks: HookWorld) -> dict[str, Ed25519PublicKey]:
    """What a receiver fetches: the processor's public keys from the registry."""
    body = httpx.get(f"{hooks.registry_url}/keys/{PROCESSOR_IDENTITY}").json()
    assert body["identity"] == PROCESSOR_IDENTITY
    return {key_id: public_key_from_text(text) for key_id, text in body["keys"].items()}


def _tampered(event: dict[str, Any]) -> dict[str, Any]:
    proof = json.loads(event["busproof"])
    value = bytearray(base64.b64decode(proof["value"]))
    value[-1] ^= 1
    proof["value"] = base64.b64encode(bytes(value)).decode()
    return {**event, "busproof": json.dumps(proof)}


async def test_every_body_carries_a_proof_the_documented_example_verifies(hooks: HookWorld) -> None:
    # given 4 citizens with 2 changes each, the last a delete, signed as one processor batch
    sent = await hooks.publish(keys=4, per_key=2, delete_last=True)
    # when the dispatcher posts them
    async with hooks.dispatcher():
        await all_accepted(hooks, len(sent))
    events = [c.event for c in hooks.receiver.accepted if c.event is not None]
    keys = _processor_keys(hooks)
    verify = _documented_verify()
    # then every body's proof verifies, with the example and with the library, deletes included
    assert len(events) == len(sent)
    for event in events:
        verify(event, keys)
        verify_busproof(event, lambda identity, key_id: keys.get(key_id))
    assert any(json.loads(e["busproof"])["value"] is None for e in events)
    assert {len(json.loads(e["busproof"])["proof"]) > 0 for e in events} == {True}  # real Merkle paths
    # and a body whose bytes were changed verifies with neither
    with pytest.raises(InvalidSignature):
        verify(_tampered(events[0]), keys)
    with pytest.raises(SignatureError):
        verify_busproof(_tampered(events[0]), lambda identity, key_id: keys.get(key_id))


async def test_a_proof_moved_onto_another_event_is_refused(hooks: HookWorld) -> None:
    # given two posted updates
    await hooks.publish(keys=2, per_key=1)
    async with hooks.dispatcher():
        await all_accepted(hooks, 2)
    first, second = (c.event for c in hooks.receiver.accepted if c.event is not None)
    keys = _processor_keys(hooks)
    # when the first's proof is put on the second
    moved = {**second, "busproof": first["busproof"]}
    # then both verifiers refuse it
    with pytest.raises(ValueError, match="another delivery"):
        _documented_verify()(moved, keys)
    with pytest.raises(SignatureError, match="another id"):
        verify_busproof(moved, lambda identity, key_id: keys.get(key_id))


async def test_records_the_processor_did_not_sign_are_parked_and_never_posted(hooks: HookWorld) -> None:
    # given one genuine update, then records written straight into delivery topics: one without the
    # proof, one with a changed value, one signed by a key that is not the processor's, and the genuine
    # one copied onto another agreement's topic of the same agency
    good, (key, value, headers) = hooks.delivery(1, 1)
    unsigned = [(k, v) for k, v in headers if k not in PROOF_HEADERS]
    changed = bytearray(value)
    changed[-1] ^= 1
    impostor = list(unsigned)
    sign_deliveries(Signer.of(Ed25519PrivateKey.generate()), [(impostor, value)])
    await hooks.produce_many(
        hooks.topic, [(key, value, headers), (key, value, unsigned), (key, bytes(changed), headers)]
    )
    await hooks.produce_many(hooks.topic, [(key, value, impostor)])
    other_topic = deliver(hooks.agency, f"other-{hooks.unique}")
    await create_topics(hooks.settings, [spec_for(other_topic)])
    await hooks.produce_many(other_topic, [(key, value, headers)])
    # when the dispatcher reads both topics
    async with hooks.dispatcher() as dispatcher:
        await all_accepted(hooks, 1)
        parked = await eventually(lambda: _at_least(hooks, 4))
        assert dispatcher.parked == 4
    # then only the genuine one was posted; the four are parked at the decode stage as bad_signature
    assert [c.webhook_id for c in hooks.receiver.calls] == [good.event_id]
    assert {parked_headers(p)["bus_dlq_reason"] for p in parked} == {"bad_signature"}
    assert {parked_headers(p)["bus_dlq_stage"] for p in parked} == {"decode"}
    assert {parked_headers(p)["bus_dlq_topic"] for p in parked} == {hooks.topic, other_topic}


async def _at_least(hooks: HookWorld, count: int) -> list[Any]:
    records = await hooks.parked()
    return records if len(records) >= count else []
