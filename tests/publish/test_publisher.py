"""The publisher SDK: validate locally, spool durably, sign, deliver in order, lose nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.broker.ports import free_port
from bus.errors import BrokerError, RecordInvalidError, RecordTooLargeError, UnknownRecordTypeError
from bus.event.envelope import ChangeKind, Envelope
from bus.event.signed_event import verify_event
from bus.event.signing import Verifier, key_id_for, private_key_pem
from bus.event.topics import spec_for
from bus.kafka.client import KafkaSettings, create_topics, read_to_end
from connectors.sdk import Change, Publisher, SyncPublisher
from connectors.sdk._spool import Spool
from tests.conftest import REPO
from tests.engine import PROFILE, local_broker, started
from tests.people import person
from tests.support.logins import provider_login, settings_env


async def create_topic(settings: KafkaSettings, topic: str) -> None:
    await create_topics(settings, [spec_for(topic)])


def envelopes_of(records: list[Any]) -> list[Envelope]:
    return [Envelope.from_headers(r.headers) for r in records]


def sequences_by_key(envelopes: list[Envelope]) -> dict[str, list[int]]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for envelope in envelopes:
        assert envelope.sequence is not None
        by_key[envelope.subject].append(envelope.sequence)
    return by_key


@pytest.fixture
def agency(unique: str) -> str:
    return f"civil-{unique}"


@pytest.fixture
def topic(agency: str, person_subject_for: Any) -> str:
    return str(person_subject_for(agency))


async def test_changes_published_while_the_broker_is_down_all_arrive_once_in_order(
    tmp_path: Path, registry_url: str, agency: str, topic: str
) -> None:
    # given a durable broker that knows the topic but is stopped
    port, data = free_port(), tmp_path / "broker"
    key = Ed25519PrivateKey.generate()
    async with started(local_broker(port=port, data_dir=data)) as broker:
        await create_topic(broker.settings(), topic)
        settings = await provider_login(broker.settings(), agency, key)  # kept with the broker's data
    people = [person(n) for n in range(100)]
    async with Publisher(
        agency,
        "gbd-fl",
        key,
        bootstrap=settings,
        registry=registry_url,
        spool_path=tmp_path / "spool.sqlite",
    ) as publisher:
        # when 10,000 changes for 100 keys are published while nothing listens
        for round_no in range(100):
            await publisher.publish_many(
                [
                    Change(
                        ChangeKind.UPDATED,
                        "person",
                        p["iin"],
                        {**p, "phone": f"+7701{round_no:07d}"},
                        ["phone"],
                    )
                    for p in people
                ]
            )
        assert publisher.depth() == 10_000
        # and the broker comes back
        async with started(local_broker(port=port, data_dir=data)) as broker:
            await publisher.flush(timeout_s=180)
            records = await read_to_end(broker.settings(), topic)
    # then every change arrived exactly once, each key's changes in order
    envelopes = envelopes_of(records)
    assert len(envelopes) == len({e.id for e in envelopes}) == 10_000
    assert all(seqs == list(range(1, 101)) for seqs in sequences_by_key(envelopes).values())
    assert len(sequences_by_key(envelopes)) == 100


def test_sigkill_mid_drain_loses_nothing_and_duplicates_only_by_ce_id(
    tmp_path: Path,
    kafka_bootstrap: str,
    kafka_settings: KafkaSettings,
    registry_url: str,
    agency: str,
    topic: str,
) -> None:
    # given a publisher process that spooled 20,000 changes and is draining them
    asyncio.run(create_topic(kafka_settings, topic))
    key = Ed25519PrivateKey.generate()
    login = asyncio.run(provider_login(kafka_settings, agency, key))
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(private_key_pem(key))
    spool = tmp_path / "spool.sqlite"
    env = {**os.environ, **settings_env(login)}  # the process logs in as the providing agency
    argv = [
        sys.executable,
        "-m",
        "tests.publish.publisher_process",
        "publish",
        kafka_bootstrap,
        registry_url,
        agency,
        str(spool),
        str(key_file),
        "20000",
    ]
    with subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "spooled"
        # when it is killed without warning while sending
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Spool(spool) as left:
        assert 0 < left.depth() <= 20_000
    # and a new process resumes from the spool
    argv[3] = "drain"
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, check=True, env=env)
    assert done.stdout.strip() == "drained"
    # then all 20,000 changes are on the topic; any repeat is a same-ce_id retransmission
    records = asyncio.run(read_to_end(kafka_settings, topic))
    by_id: dict[str, set[tuple[bytes | None, bytes | None]]] = defaultdict(set)
    for record in records:
        by_id[Envelope.from_headers(record.headers).id].add((record.key, record.value))
    assert len(by_id) == 20_000
    assert all(len(copies) == 1 for copies in by_id.values())


async def test_published_events_carry_a_valid_signature(
    tmp_path: Path, kafka_settings: KafkaSettings, registry_url: str, agency: str, topic: str
) -> None:
    # given an agency key and three changes published as one batch
    await create_topic(kafka_settings, topic)
    key = Ed25519PrivateKey.generate()
    async with Publisher(
        agency,
        "gbd-fl",
        key,
        bootstrap=kafka_settings,
        registry=registry_url,
        spool_path=tmp_path / "spool.sqlite",
    ) as publisher:
        await publisher.publish_many(
            [Change(ChangeKind.CREATED, "person", p["iin"], p) for p in map(person, range(3))]
        )
        await publisher.deleted("person", person(0)["iin"])
        await publisher.flush(timeout_s=30)
    # when a verifier that knows the agency's public key checks them
    verifier = Verifier(
        lambda a, k: key.public_key() if (a, k) == (agency, key_id_for(key.public_key())) else None
    )
    records = await read_to_end(kafka_settings, topic)
    for record in records:
        verify_event(verifier, Envelope.from_headers(record.headers), record.headers, record.value)
    # then all four verify, with one Ed25519 check per batch
    assert len(records) == 4
    assert verifier.ed25519_checks == 2


@pytest.fixture
async def publisher(
    tmp_path: Path, kafka_settings: KafkaSettings, registry_url: str, agency: str, topic: str
) -> Any:
    async with Publisher(
        agency,
        "gbd-fl",
        Ed25519PrivateKey.generate(),
        bootstrap=kafka_settings,
        registry=registry_url,
        spool_path=tmp_path / "spool.sqlite",
    ) as p:
        yield p


async def test_a_record_that_does_not_match_its_schema_names_every_bad_field(publisher: Publisher) -> None:
    # given: a record with two fields that break the schema (as the gateway reports them)
    record = person(1, birth_date="yesterday", surname=42)
    # when / then: both are listed, and nothing is spooled
    with pytest.raises(RecordInvalidError, match="birth_date") as info:
        await publisher.updated("person", record["iin"], record)
    assert [path for path, _ in info.value.problems] == ["surname", "birth_date"]
    assert publisher.depth() == 0


async def test_a_bad_field_inside_a_nested_record_is_named_by_its_full_path(publisher: Publisher) -> None:
    # given a record whose registered address lacks its building number
    address = {k: v for k, v in person(12)["registered_address"].items() if k != "building"}
    record = person(12, sex="UNKNOWN", registered_address=address)
    # when it is published / then the problem names the nested field as the gateway does, nothing spooled
    with pytest.raises(RecordInvalidError, match=r"registered_address\.building") as info:
        await publisher.updated("person", record["iin"], record)
    assert [path for path, _ in info.value.problems] == ["sex", "registered_address.building"]
    assert publisher.depth() == 0


async def test_an_unknown_record_type_names_the_subject(publisher: Publisher, agency: str) -> None:
    with pytest.raises(UnknownRecordTypeError, match=f"ingress.{agency}.vehicle-value"):
        await publisher.updated("vehicle", "XTA21150064123456", {"vin": "XTA21150064123456"})


async def test_a_key_that_is_not_the_records_iin_is_rejected(publisher: Publisher) -> None:
    with pytest.raises(RecordInvalidError, match="key") as info:
        await publisher.updated("person", person(2)["iin"], person(3))
    assert info.value.problems[0][0] == "key"


async def test_a_record_no_produce_request_can_carry_is_refused_and_never_holds_back_the_spool(
    publisher: Publisher, kafka_settings: KafkaSettings, topic: str
) -> None:
    # given a batch with a person whose surname alone is larger than a produce request may be
    huge, good = person(5, surname="S" * (1 << 20)), person(6)
    batch = [Change(ChangeKind.CREATED, "person", p["iin"], p) for p in (good, huge)]
    # when it is published
    with pytest.raises(RecordTooLargeError, match="the limit is 1048576 bytes") as info:
        await publisher.publish_many(batch)
    # then the record, its topic and the limit are named, and nothing of the batch is spooled
    assert huge["iin"] in info.value.message
    assert topic in info.value.message
    assert publisher.depth() == 0
    # and a later change is delivered, not held back behind a record that can never be sent
    await publisher.updated("person", good["iin"], good)
    await publisher.flush(timeout_s=30)
    assert [r.key for r in await read_to_end(kafka_settings, topic)] == [good["iin"].encode()]


async def test_an_iin_with_a_wrong_check_digit_is_rejected(publisher: Publisher) -> None:
    record = person(4)
    bad = record["iin"][:11] + str((int(record["iin"][11]) + 1) % 10)
    with pytest.raises(RecordInvalidError, match="check digit"):
        await publisher.updated("person", bad, {**record, "iin": bad})
    assert publisher.depth() == 0


def test_the_sync_publisher_publishes_and_flushes(
    tmp_path: Path, kafka_settings: KafkaSettings, registry_url: str, agency: str, topic: str
) -> None:
    asyncio.run(create_topic(kafka_settings, topic))
    record = person(5)
    with SyncPublisher(
        agency,
        "gbd-fl",
        Ed25519PrivateKey.generate(),
        bootstrap=kafka_settings,
        registry=registry_url,
        spool_path=tmp_path / "spool.sqlite",
    ) as publisher:
        event_id = publisher.created("person", record["iin"], record)
        publisher.flush(timeout_s=30)
        assert publisher.depth() == 0
    ids = [Envelope.from_headers(r.headers).id for r in asyncio.run(read_to_end(kafka_settings, topic))]
    assert ids == [event_id]


def test_bus_publish_from_a_shell_delivers_a_signed_change(
    tmp_path: Path,
    kafka_bootstrap: str,
    kafka_settings: KafkaSettings,
    registry_url: str,
    agency: str,
    topic: str,
) -> None:
    # given an agency in the directory with a key made by `bus agencies keygen`
    from tests.processes import bus

    asyncio.run(create_topic(kafka_settings, topic))
    broker = ("--bootstrap", kafka_bootstrap, "--profile", PROFILE)
    assert bus("agencies", "add", agency, "--name", "Civil registry", *broker).returncode == 0
    keygen = bus("agencies", "keygen", agency, "--out", str(tmp_path / "key.pem"), *broker)
    assert keygen.returncode == 0, keygen.stderr
    record = tmp_path / "person.json"
    record.write_text(json.dumps({**person(7), "birth_date": person(7)["birth_date"].isoformat()}))
    # when an operator publishes a record file
    result = bus(
        "publish",
        "person",
        "--key",
        person(7)["iin"],
        "--file",
        str(record),
        "--agency",
        agency,
        "--key-file",
        str(tmp_path / "key.pem"),
        "--spool",
        str(tmp_path / "spool.sqlite"),
        "--registry",
        registry_url,
        *broker,
    )
    # then it is on the ingress topic with the printed ce_id
    assert result.returncode == 0, result.stderr
    [message] = asyncio.run(read_to_end(kafka_settings, topic))
    assert Envelope.from_headers(message.headers).id in result.stdout


async def test_a_publisher_restarted_while_the_registry_is_unreachable_still_publishes(
    tmp_path: Path, kafka_settings: KafkaSettings, registry_url: str, agency: str, topic: str
) -> None:
    # given a publisher that resolved the person schema once, then stopped
    await create_topic(kafka_settings, topic)
    key, spool = Ed25519PrivateKey.generate(), tmp_path / "spool.sqlite"
    async with Publisher(
        agency, "gbd-fl", key, bootstrap=kafka_settings, registry=registry_url, spool_path=spool
    ) as publisher:
        await publisher.created("person", person(50)["iin"], person(50))
        await publisher.flush(timeout_s=30)
    # when it restarts with the registry out of reach
    unreachable = f"http://127.0.0.1:{free_port()}"
    async with Publisher(
        agency, "gbd-fl", key, bootstrap=kafka_settings, registry=unreachable, spool_path=spool
    ) as publisher:
        event_id = await publisher.updated(
            "person", person(50)["iin"], person(50, phone="+77015550050"), ["phone"]
        )
        await publisher.flush(timeout_s=30)
    # then the change was validated with the last known schema and delivered
    ids = [Envelope.from_headers(r.headers).id for r in await read_to_end(kafka_settings, topic)]
    assert event_id in ids


async def test_without_a_known_schema_an_unreachable_registry_is_reported(
    tmp_path: Path, kafka_settings: KafkaSettings, agency: str
) -> None:
    async with Publisher(
        agency,
        "gbd-fl",
        Ed25519PrivateKey.generate(),
        bootstrap=kafka_settings,
        registry=f"http://127.0.0.1:{free_port()}",
        spool_path=tmp_path / "s.sqlite",
    ) as publisher:
        with pytest.raises(BrokerError, match="cannot reach the schema registry"):
            await publisher.created("person", person(51)["iin"], person(51))
