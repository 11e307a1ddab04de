"""Every update the SDK hands over and the agency acks is receipted: signed with the agency's key, sent
to bus.receipts before its offset is committed, verified and chained by the archiver, shown by the
tracker. Nobody can receipt for another agency."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections import Counter
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update as sa_update

from bus.audit.archive import Archiver
from bus.audit.chain import GENESIS, chain_step
from bus.audit.db import ArchiveStore
from bus.audit.query import AuditPage, SubjectQuery, find_subject_entries
from bus.audit.receipt_store import ReceiptRow, ReceiptStore, StoredReceipt
from bus.audit.verify import BreakKind, verify_store
from bus.directory.tokens import new_token
from bus.event.signed_event import Signer
from bus.event.signing import Verifier, key_id_for, private_key_pem
from bus.event.topics import SystemTopic
from bus.kafka.client import make_producer
from bus.receipts.receipt import Receipt, receipt_digest, signed_receipts
from bus.subscriber import Subscriber, Update
from tests.people import person
from tests.subscriber.subscriber_process import run_subscriber
from tests.support.eventually import eventually
from tests.support.logins import agency_login
from tests.support.receipts import archived_receipts, receipt_rows
from tests.support.world import World, update

TAX_FIELDS = ("iin", "surname")


async def _receipting_agency(world: World, name: str) -> tuple[str, Ed25519PrivateKey]:
    """``name``-{unique} in the directory with a token and a signing key; its own broker login."""
    key, token = Ed25519PrivateKey.generate(), new_token()
    agency = world.consumer(name)
    await world.add_agency(agency, f"{name} agency", key=key, token=token)
    world.logins[agency] = await agency_login(world.settings, agency)
    return token, key


async def _delivered(world: World, count: int, name: str = "tax") -> tuple[str, str, Ed25519PrivateKey]:
    """``count`` deliveries on a ``name`` agreement; returns the agreement id, token and agency key."""
    agreement = world.agreement(name, TAX_FIELDS)
    await world.apply(agreement)
    token, key = await _receipting_agency(world, name)
    async with world.processor():
        await world.publish(*(update(person(n), ["surname"], surname=f"S{n}") for n in range(count)))
        await eventually(functools.partial(_at_least, world, agreement.delivery_topic, count), timeout_s=120)
    return agreement.id, token, key


async def _at_least(world: World, topic: str, count: int) -> bool:
    return len(await world.records(topic)) >= count


async def _run(world: World, name: str, agreement: str, token: str, key: Ed25519PrivateKey, tmp: Path) -> int:
    handled = 0

    async def handler(_: Update) -> None:
        nonlocal handled
        handled += 1

    async with Subscriber(
        world.consumer(name),
        token,
        bootstrap=world.logins[world.consumer(name)],
        registry=world.registry_url,
        store_path=tmp / f"{name}.sqlite",
        signing_key=key,
    ) as subscriber:
        await subscriber.run(agreement, handler, follow=False)
        assert subscriber.receipts_sent() == handled
    return handled


def _chain_holds(store: ArchiveStore) -> bool:
    """Recompute every partition's receipt chain from the rows and compare with the stored hashes."""
    receipts = ReceiptStore(store)
    heads = receipts.heads()
    for partition, head in heads.items():
        digest = GENESIS
        for row in receipts.rows(partition):
            digest = chain_step(digest, row.canonical_bytes())
            if digest.hex() != row.hash:
                return False
        if head.count and digest.hex() != head.hash:
            return False
    return True


async def test_a_thousand_acked_updates_yield_a_thousand_verifiable_receipts(
    world: World, tmp_path: Path
) -> None:
    # given 1,000 tax deliveries and a tax agency whose SDK holds its signing key
    agreement, token, key = await _delivered(world, 1000)
    db = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    async with world.archiver(db) as archiver:
        # when the agency's handler takes them all
        handled = await _run(world, "tax", agreement, token, key, tmp_path)
        # then the archive holds exactly one receipt per update, each verifiable with the agency's key
        rows = await eventually(
            lambda: archived_receipts(archiver.store, world.consumer("tax"), 1000), timeout_s=60
        )
        assert handled == 1000
        assert len(rows) == 1000
        assert len({r.event_id for r in rows}) == 1000
        verifier = Verifier(
            lambda agency, key_id: key.public_key() if key_id == key_id_for(key.public_key()) else None
        )
        for row in rows:
            verifier.verify(
                world.consumer("tax"),
                receipt_digest(row.value.encode()),
                row.signature,
                row.proof or None,
                row.key_id,
            )
        assert verifier.ed25519_checks <= 100  # one signature per ack batch, not one per receipt
        # and the receipt chain recomputes from the rows
        assert await asyncio.to_thread(_chain_holds, archiver.store)
        # and the tracker's query says who received each delivery, and when (once the archiver,
        # which starts from the session's whole bus.audit, has reached this test's entries)
        query = SubjectQuery(person(7)["iin"], consumer=world.consumer("tax"))

        async def page() -> AuditPage | None:
            found = await asyncio.to_thread(find_subject_entries, archiver.store, query)
            return found if found.entries else None

        entries = await eventually(page, timeout_s=120)
    assert all(entries.received_at(e) is not None for e in entries.entries)


async def test_a_receipt_signed_by_another_agency_is_refused(world: World, tmp_path: Path) -> None:
    # given a genuine tax receipt, and one signed by the health agency's key that claims tax received it
    agreement, token, key = await _delivered(world, 2)
    _, health_key = await _receipting_agency(world, "health")
    db = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    async with world.archiver(db) as archiver:
        await _run(world, "tax", agreement, token, key, tmp_path)
        [genuine, *_] = await eventually(
            lambda: archived_receipts(archiver.store, world.consumer("tax"), 2), timeout_s=60
        )
        refused_before = archiver.receipts.refused
        forged = Receipt.model_validate_json(genuine.value).model_copy(
            update={"event_id": "forged-" + world.unique}
        )
        records = signed_receipts(Signer.of(health_key), [forged])
        producer = make_producer(world.logins[world.consumer("health")])  # the health agency's own login
        await producer.start()
        try:
            for k, v, h in records:
                await producer.send_and_wait(SystemTopic.RECEIPTS, key=k, value=v, headers=h)
        finally:
            await producer.stop()
        # when the archiver reads it
        await eventually(lambda: _refused(archiver, refused_before), timeout_s=30)
        # then it is refused and not archived: tax still has exactly its two genuine receipts
        rows = await asyncio.to_thread(receipt_rows, archiver.store, world.consumer("tax"))
    assert sorted(r.event_id for r in rows) == sorted([genuine.event_id, _second(rows, genuine)])
    assert not any(r.event_id.startswith("forged") for r in rows)


def _second(rows: list[StoredReceipt], first: StoredReceipt) -> str:
    [other] = [r.event_id for r in rows if r.event_id != first.event_id]
    return other


async def _refused(archiver: Archiver, before: int) -> bool:
    return archiver.receipts.refused > before


async def test_killing_the_subscriber_between_ack_and_receipt_loses_no_receipt(
    world: World, tmp_path: Path
) -> None:
    # given 300 deliveries and a subscriber process SIGKILLed right after its 123rd ack, before the
    # receipts of that batch were sent, then restarted to the end
    agreement, token, key = await _delivered(world, 300)
    key_file = tmp_path / "tax.pem"
    key_file.write_bytes(private_key_pem(key))
    out = tmp_path / "handled.txt"
    crashed = run_subscriber(world, token, agreement, tmp_path, 123, key_file)
    finished = run_subscriber(world, token, agreement, tmp_path, 0, key_file)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert finished.returncode == 0, finished.stderr[-2000:]
    # when the archiver has read bus.receipts
    db = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    async with world.archiver(db) as archiver:
        rows = await eventually(
            lambda: archived_receipts(archiver.store, world.consumer("tax"), 300), timeout_s=60
        )
    # then every handled update has exactly one archived receipt, and each was handed over once
    handled = Counter(line.split()[0] for line in out.read_text().splitlines())
    assert len(handled) == 300
    assert set(handled.values()) == {1}
    assert sorted(r.event_id for r in rows) == sorted(handled)


async def test_a_receipt_changed_in_the_archive_breaks_its_chain(world: World, tmp_path: Path) -> None:
    # given three archived receipts whose chain verifies
    agreement, token, key = await _delivered(world, 3)
    db = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    async with world.archiver(db) as archiver:
        await _run(world, "tax", agreement, token, key, tmp_path)
        [first, *_] = await eventually(
            lambda: archived_receipts(archiver.store, world.consumer("tax"), 3), timeout_s=60
        )
        assert (await asyncio.to_thread(verify_store, archiver.store, [])).receipt_breaks == ()
        # when someone with database access moves one receipt's time back a day
        earlier = Receipt.model_validate_json(first.value).received_at - dt.timedelta(days=1)
        forged = Receipt.model_validate_json(first.value).model_copy(update={"received_at": earlier})
        table = ReceiptRow.__table__
        with archiver.store.engine.begin() as connection:
            connection.execute(
                sa_update(ReceiptRow)
                .where(
                    table.c.kafka_partition == first.kafka_partition,
                    table.c.kafka_offset == first.kafka_offset,
                )
                .values(value=forged.model_dump_json(), received_at=earlier)
            )
        # then verification names the receipt whose hash no longer follows
        report = await asyncio.to_thread(verify_store, archiver.store, [])
    assert not report.ok
    [broken] = report.receipt_breaks
    assert (broken.kind, broken.partition, broken.offset) == (
        BreakKind.RECEIPT_HASH_MISMATCH,
        first.kafka_partition,
        first.kafka_offset,
    )
