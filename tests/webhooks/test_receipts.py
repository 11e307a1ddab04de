"""What a webhook receiver accepts (2xx) is receipted by the dispatcher: signed with the bus.webhooks
key, recording the receiver's answer, archived beside the audit entries."""

from __future__ import annotations

import json
from pathlib import Path

from bus.audit.archive import Archiver, ArchiveSettings
from bus.directory.keys import ensure_service_key
from bus.directory.model import WEBHOOKS_IDENTITY
from bus.webhooks.dispatcher import WebhookDispatcher
from tests.support.eventually import eventually
from tests.support.receipts import archived_receipts
from tests.support.running import running
from tests.webhooks.conftest import HookWorld
from tests.webhooks.test_dispatcher import all_accepted


async def _finished(dispatcher: WebhookDispatcher, count: int) -> bool:
    return dispatcher.delivered >= count


async def test_a_hundred_accepted_webhooks_yield_a_hundred_receipts(hooks: HookWorld, tmp_path: Path) -> None:
    # given 100 updates and a dispatcher holding a key registered under bus.webhooks
    sent = await hooks.publish(keys=20, per_key=5)
    key = tmp_path / "webhooks.pem"
    await ensure_service_key(hooks.settings, key, WEBHOOKS_IDENTITY)
    archive = ArchiveSettings(
        db_url=f"sqlite:///{tmp_path / 'audit.sqlite'}",
        registry_url=hooks.registry_url,
        key_file=tmp_path / "audit-key.pem",
        group_id=f"bus-audit-archiver-{hooks.unique}",
    )
    # when the receiver accepts all of them
    async with running(Archiver(hooks.settings, archive)) as archiver:
        async with hooks.dispatcher(signing_key=key) as dispatcher:
            await all_accepted(hooks, len(sent))
            await eventually(lambda: _finished(dispatcher, len(sent)))  # its answers read, not only sent
        rows = await eventually(lambda: archived_receipts(archiver.store, hooks.agency, 100), timeout_s=60)
    # then there is exactly one receipt per accepted update, signed by the dispatcher, with the answer
    assert sorted(r.event_id for r in rows) == sorted(s.event_id for s in sent)
    bodies = [json.loads(r.value) for r in rows]
    [answer] = {c.status for c in hooks.receiver.accepted}  # the receiver's own 2xx
    signed = {(b["by"], b["status"], b["agreement"]) for b in bodies}
    assert signed == {(WEBHOOKS_IDENTITY, answer, hooks.agreement_id)}


async def test_without_a_key_the_dispatcher_delivers_and_receipts_nothing(hooks: HookWorld) -> None:
    # given a dispatcher with no signing key
    sent = await hooks.publish(keys=2, per_key=1)
    # when it delivers
    async with hooks.dispatcher() as dispatcher:
        await all_accepted(hooks, len(sent))
        # then the updates arrive, and no receipt writer exists to send anything
        assert dispatcher.receipts is None
