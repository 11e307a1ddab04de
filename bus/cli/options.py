"""Options shared by every command, so ``--bootstrap`` means the same thing everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bus.broker.engine import Engine
from bus.errors import ConfigError
from bus.kafka.client import BrokerProfile, KafkaSettings
from bus.run.environment import OPERATOR_TOKEN_ENV

Bootstrap = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        envvar="BUS_BOOTSTRAP",
        help="Kafka bootstrap address (host:port) of the broker or cluster to use.",
        show_default=False,
    ),
]
Profile = Annotated[
    BrokerProfile,
    typer.Option(
        "--profile",
        envvar="BUS_BROKER_PROFILE",
        help="embedded = the tansu broker (no idempotence); kafka = Apache Kafka (local or a cluster).",
    ),
]


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        envvar="BUS_ENGINE",
        help="Local broker: kafka = Apache Kafka (needs Java 17), tansu = the pip-only fallback, "
        "auto = Kafka when it can run here.",
    ),
]
DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="BUS_DATA_DIR",
        help="Where the local broker keeps topics, records and offsets.",
    ),
]
Ephemeral = Annotated[
    bool,
    typer.Option("--ephemeral", help="Keep everything in memory; lost when stopped."),
]
DEFAULT_DATA_DIR = Path("bus-data")
RegistryUrl = Annotated[
    str,
    typer.Option("--registry", envvar="BUS_REGISTRY_URL", help="Schema registry base URL."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar=["BUS_TOKEN", OPERATOR_TOKEN_ENV],
        help="Bearer token for writes (an agency's token, or the operator token).",
        show_default=False,
    ),
]
DEFAULT_REGISTRY_URL = "http://127.0.0.1:8081"


def require_settings(bootstrap: str | None, profile: BrokerProfile) -> KafkaSettings:
    """Client settings for an already-running broker, or an actionable error."""
    if not bootstrap:
        raise ConfigError(
            "no broker address given",
            hint="pass --bootstrap host:port or set BUS_BOOTSTRAP; "
            "to start a local broker run `bus broker up` in another terminal",
        )
    return KafkaSettings(bootstrap=bootstrap, broker_profile=profile)
