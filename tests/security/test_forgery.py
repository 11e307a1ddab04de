"""What an attacker writes: refused where it may not write; dead-lettered where it may (#20)."""

from __future__ import annotations

from confluent_kafka import KafkaError, Producer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.event.envelope import ChangeKind
from bus.event.signed_event import Draft, Signer, compose
from bus.kafka.client import KafkaSettings, read_to_end
from tests.people import person
from tests.processor.test_dead_letters import person_bytes
from tests.security import probes
from tests.security.conftest import A, Secured, client_config, deliver
from tests.support.eventually import eventually
from tests.support.world import World


async def test_a_record_forged_onto_a_delivery_topic_is_refused_and_reaches_no_consumer(
    secured: Secured,
) -> None:
    # given agency A's login / when it writes a forged record onto its own delivery topic
    assert probes.write(secured.login(A), deliver(A), b"forged delivery") == probes.DENIED
    # then the topic holds only what the bus wrote there
    values = [r.value for r in await read_to_end(secured.settings, deliver(A))]
    assert b"forged delivery" not in values


def _login(settings: KafkaSettings) -> probes.Config:
    assert settings.sasl_username is not None
    assert settings.sasl_password is not None
    return client_config(
        settings.bootstrap, settings.sasl_username, settings.sasl_password.get_secret_value()
    )


async def test_a_compromised_provider_writing_its_own_ingress_with_a_bad_signature_is_dead_lettered(
    world: World,
) -> None:
    # given the provider's own Kafka login, used by an attacker with a plain librdkafka producer, and
    # an event signed by another key under the provider's key id
    assert world.provider_settings is not None
    citizen = person(40)
    value = await person_bytes(world, citizen)
    forger = Signer(Ed25519PrivateKey.generate(), Signer.of(world.key).key_id)
    [envelope] = compose(
        world.provider,
        "gbd-fl",
        forger,
        [Draft(ChangeKind.CREATED, "gov.civil.Person", citizen["iin"], value, 1)],
    )
    async with world.processor():
        # when it writes the event to the provider's ingress topic (which the broker lets it do)
        reports: list[KafkaError | None] = []
        headers: list[tuple[str, str | bytes | None]] = list(envelope.to_headers())
        producer = Producer(_login(world.provider_settings))
        producer.produce(
            world.topic,
            key=citizen["iin"].encode(),
            value=value,
            headers=headers,
            on_delivery=lambda error, _: reports.append(error),
        )
        producer.flush(20)
        assert reports == [None]
        # then the processor dead-letters it for its signature, as it would anyone else's
        [letter] = await eventually(world.dead_letters)
    reason = dict((k, bytes(v).decode()) for k, v in letter.headers)["bus_dlq_reason"]
    assert reason == "signature_bad_signature"
