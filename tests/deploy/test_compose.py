"""deploy/compose: `docker compose config -q` accepts it, and it runs what DESIGN §7 asks for."""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bus.acl.rules import SERVICES
from tests.deploy.conftest import DEPLOY, yaml_docs

COMPOSE = DEPLOY / "compose"
BUS_SERVICES = {"registry", "gateway", "processor", "webhooks", "audit-archiver", "acl-sync"}


def assert_bus_command(args: Sequence[str]) -> None:
    """``bus <group> <command> [options]`` exists and accepts these options (parsed, not run)."""
    group = args[0]
    module = importlib.import_module(f"bus.cli.{group}")
    root = typer.Typer()
    root.add_typer(module.app, name=group)
    result = CliRunner().invoke(root, [*args, "--help"])
    assert result.exit_code == 0, f"bus {' '.join(args)}: {result.output}"


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml_docs(COMPOSE / "docker-compose.yml")[0]["services"]
    return services


def test_docker_compose_config_accepts_the_file_with_the_example_env() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is installed (.ci/run installs docker-compose)"
        )
    args = ["--env-file", str(COMPOSE / "example.env"), "-f", str(COMPOSE / "docker-compose.yml")]
    done = subprocess.run([*cli, *args, "config", "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # and without real secrets it refuses, naming what to do
    bare = subprocess.run(
        [*cli, "-f", str(COMPOSE / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True
    )
    assert bare.returncode != 0
    assert "copy example.env to .env" in bare.stderr


def test_three_kraft_nodes_of_the_official_image() -> None:
    services = _services()
    nodes = [
        name for name, s in services.items() if s.get("entrypoint", [None, ""])[-1].endswith("start-kafka.sh")
    ]
    assert sorted(nodes) == ["kafka-1", "kafka-2", "kafka-3"]
    for name in nodes:
        assert services[name]["image"].startswith("apache/kafka:")
    script = (COMPOSE / "kafka" / "start-kafka.sh").read_text()
    for line in (
        "process.roles=broker,controller",
        "default.replication.factor=3",
        "min.insync.replicas=2",
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "listener.security.protocol.map=CONTROLLER:SSL,REPLICATION:SSL,CLIENT:SASL_SSL,EXTERNAL:SASL_SSL",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "auto.create.topics.enable=false",
    ):
        assert line in script, line


def test_the_bus_services_run_existing_commands_as_their_own_kafka_users() -> None:
    services = _services()
    assert services.keys() >= BUS_SERVICES
    for name in BUS_SERVICES:
        service = services[name]
        assert_bus_command(service["command"])
        env = service["environment"]
        assert env["BUS_BROKER_PROFILE"] == "kafka"
        assert env["BUS_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["BUS_SASL_USERNAME"] == f"bus.{name}"
        assert env["BUS_BOOTSTRAP"].startswith("kafka-1:9093")
        assert service["depends_on"]["kafka-setup"] == {"condition": "service_completed_successfully"}


def test_the_setup_creates_a_scram_user_for_every_service_and_applies_topics_and_acls() -> None:
    setup = (COMPOSE / "kafka" / "setup.sh").read_text()
    users = (COMPOSE / "kafka" / "users.sh").read_text()
    assert "source /opt/bus/users.sh" in setup
    for service in SERVICES:  # the principals the ACLs name, from the same code
        assert f"scram {service.user} " in users, service.name
    assert "bash /opt/bus/topics.sh" in setup
    assert "bash /opt/bus/acls.sh" in setup


def test_every_service_password_is_passed_to_the_setup_and_has_an_example() -> None:
    setup_env = _services()["kafka-setup"]["environment"]
    example = (COMPOSE / "example.env").read_text()
    for service in SERVICES:
        variable = "KAFKA_PASSWORD_" + service.name.upper().replace("-", "_")
        assert variable in setup_env, variable
        assert f"{variable}=example-" in example, variable


@pytest.mark.parametrize("script", sorted((COMPOSE / "kafka").glob("*.sh")), ids=lambda p: p.name)
def test_the_scripts_are_valid_bash(script: Any) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_example_env_holds_only_example_values() -> None:
    for line in (COMPOSE / "example.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            assert value.startswith("example-") or key == "KAFKA_CLUSTER_ID", key


def test_the_image_is_python_311_slim_with_the_package_installed() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "RUN pip install ." in dockerfile
    assert 'ENTRYPOINT ["bus"]' in dockerfile


def test_the_image_ships_the_purpose_code_list_beside_the_agreements_it_applies() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    copies = {
        parts[1]: PurePosixPath(parts[2])
        for parts in (line.split() for line in lines)
        if parts[:1] == ["COPY"]
    }
    target = copies["deploy/purpose-codes.yaml"]
    assert target == copies["deploy/agreements"].parent / "purpose-codes.yaml"
