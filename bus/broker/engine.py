"""Which local broker runs: Apache Kafka (the reference) or tansu (the pip-only fallback).

``auto`` takes Kafka when Java >= 17 is present and Kafka is installed, or can be installed with
Maven; otherwise tansu, with the reason said. Code outside ``bus/broker/`` never asks which engine
runs: it gets ``KafkaSettings`` whose broker profile follows the engine.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bus.broker.embedded import EmbeddedBroker
from bus.broker.kafka.cluster import KafkaCluster
from bus.broker.kafka.install import find_java, install, installed, kafka_version
from bus.errors import BrokerBinaryNotFound, ConfigError

LocalBroker = EmbeddedBroker | KafkaCluster


class Engine(StrEnum):
    AUTO = "auto"
    KAFKA = "kafka"
    TANSU = "tansu"


@dataclass(frozen=True)
class Choice:
    engine: Engine
    reason: str


def choose(engine: Engine) -> Choice:
    """Resolve ``auto``; install Kafka first when it is chosen but not cached yet."""
    if engine is Engine.TANSU:
        return Choice(Engine.TANSU, "--engine tansu")
    if installed() is not None:
        return Choice(Engine.KAFKA, f"Apache Kafka {kafka_version()} is installed")
    if engine is Engine.KAFKA:
        install()
        return Choice(Engine.KAFKA, f"Apache Kafka {kafka_version()} installed from Maven Central")
    try:
        find_java()
    except BrokerBinaryNotFound as exc:
        return Choice(Engine.TANSU, f"no Java 17 for Apache Kafka ({exc.message})")
    if shutil.which("mvn") is None:
        return Choice(Engine.TANSU, "Apache Kafka is not installed and Maven is missing to fetch it")
    try:
        install()
    except BrokerBinaryNotFound as exc:
        return Choice(Engine.TANSU, f"Apache Kafka could not be installed: {exc.message}")
    return Choice(Engine.KAFKA, f"Apache Kafka {kafka_version()} installed from Maven Central")


def local_broker(
    engine: Engine,
    *,
    port: int | None,
    data_dir: Path | None,
    nodes: int = 1,
    log_dir: Path | None = None,
    tls: bool = False,
) -> LocalBroker:
    """The broker of a resolved engine; ``data_dir=None`` keeps nothing after it stops (``log_dir``: tansu's
    logs elsewhere than the data dir; Kafka keeps each node's logs beside its data; ``tls``: Kafka's
    client listener speaks TLS with a certificate of a CA made for it)."""
    if engine is Engine.AUTO:
        raise ConfigError("resolve --engine auto with choose() first")
    if engine is Engine.TANSU:
        if nodes != 1:
            raise ConfigError(
                "the tansu engine runs one node", hint="use --engine kafka for a 3-node cluster"
            )
        if tls:
            raise ConfigError("the tansu engine has no TLS (nor SASL)", hint="use --engine kafka with --tls")
        return EmbeddedBroker(port=port, data_dir=data_dir, log_dir=log_dir)
    return KafkaCluster(nodes=nodes, data_dir=data_dir, port=port, tls=tls)
