"""The ``kafka`` profile against the embedded (tansu) broker: an error that says what to set (issue #25)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.broker.embedded import EmbeddedBroker
from bus.errors import BrokerError
from bus.kafka.client import BrokerProfile, KafkaSettings, make_producer
from tests.engine import serving
from tests.processes import bus

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A tansu broker of this module's own, whatever engine the session broker runs."""
    with serving(EmbeddedBroker(log_dir=tmp_path_factory.mktemp("tansu"))) as broker:
        yield broker


async def test_a_kafka_profile_producer_on_the_embedded_broker_says_to_set_the_embedded_profile(
    tansu: EmbeddedBroker,
) -> None:
    # given settings with a bare bootstrap address of the embedded broker (so the default kafka profile)
    settings = KafkaSettings(bootstrap=tansu.bootstrap, broker_profile=BrokerProfile.KAFKA)
    producer = make_producer(settings)
    # when its idempotent producer starts / then the error names the cause and what to set
    with pytest.raises(BrokerError) as info:
        await producer.start()
    assert "idempotent producer" in info.value.message
    assert tansu.bootstrap in info.value.message
    assert "BUS_BROKER_PROFILE=embedded" in info.value.hint
    assert not info.value.retriable


@pytest.mark.parametrize(
    "command",
    [
        ("registry", "serve", "--port", "0"),
        (
            "gateway",
            "serve",
            "--port",
            "0",
            "--key-file",
            "{tmp}/key.pem",
            "--audit-db",
            "sqlite:///{tmp}/a.db",
        ),
        ("agencies", "add", "akimat-profile", "--name", "Akimat"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_a_command_with_a_bare_bootstrap_on_the_embedded_broker_names_the_profile_to_set(
    tansu: EmbeddedBroker, command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given no broker profile anywhere, so a command takes the kafka profile
    monkeypatch.delenv("BUS_BROKER_PROFILE", raising=False)
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    # when a command that starts a producer is pointed at the embedded broker
    done = bus(*args, "--bootstrap", tansu.bootstrap, env={"BUS_OPERATOR_TOKEN": "o" * 40})
    # then it exits with a line that says what to set, not the broker's riddle
    output = re.sub(r"\s+", " ", done.stdout + done.stderr)
    assert done.returncode == 1, output
    assert "BUS_BROKER_PROFILE=embedded" in output
    assert "see the broker logs; the operation can be retried" not in output


def test_every_producer_is_built_by_make_producer() -> None:
    # given the source of the bus and its connectors
    sources = [*ROOT.joinpath("bus").rglob("*.py"), *ROOT.joinpath("connectors").rglob("*.py")]
    # when / then only the client adapter constructs aiokafka producers, so every one gets the check
    building = [
        path.relative_to(ROOT).as_posix()
        for path in sources
        if "AIOKafkaProducer(" in path.read_text(encoding="utf-8")
    ]
    assert set(building) <= {"bus/kafka/client.py"}
