"""``bus acl export`` from a folder of agreements and from the ones applied on a broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer
import yaml

from bus.acl.render import kafka_acls_script
from bus.acl.rules import rules_for
from bus.cli import acl
from bus.directory.model import AgencyEntry
from bus.event.topics import SystemTopic, spec_for
from bus.kafka.client import KafkaSettings, create_topics, make_producer
from bus.policy.agreement import load_agreements
from tests.engine import PROFILE
from tests.support.cli import BusRunner

REPO = Path(__file__).resolve().parents[2]
AGREEMENTS = REPO / "deploy" / "agreements"
runner = BusRunner()


def _app() -> typer.Typer:
    """The group as bus/cli/app.py registers it (``app.add_typer(acl.app, name="acl")``)."""
    root = typer.Typer()
    root.add_typer(acl.app, name="acl")
    return root


def test_export_from_a_folder_prints_the_kafka_script() -> None:
    result = runner.invoke(
        _app(), ["acl", "export", "--agreements", str(AGREEMENTS), "--publisher", "business-registry"]
    )
    assert result.exit_code == 0, result.output
    expected = rules_for(load_agreements(AGREEMENTS), ["business-registry"])
    assert result.output == kafka_acls_script(expected, source=f"agreements in {AGREEMENTS}")


def test_export_strimzi_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "users.yaml"
    args = [
        "acl",
        "export",
        "--format",
        "strimzi",
        "--agreements",
        str(AGREEMENTS),
        "--cluster",
        "c1",
        "-o",
        str(out),
    ]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 0, result.output
    users = [d for d in yaml.safe_load_all(out.read_text()) if d]
    assert {u["metadata"]["labels"]["strimzi.io/cluster"] for u in users} == {"c1"}
    assert "tax" in {u["metadata"]["name"] for u in users}


def test_a_missing_folder_is_one_readable_error(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["acl", "export", "--agreements", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "does not exist" in " ".join(result.output.split())


def test_without_folder_or_broker_it_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUS_BOOTSTRAP", raising=False)
    result = runner.invoke(_app(), ["acl", "export"])
    assert result.exit_code == 1
    assert "no broker address given" in result.output


async def _publish(settings: KafkaSettings, unique: str) -> tuple[str, str, str]:
    provider, consumer, agreement_id = f"prov-{unique}", f"cons-{unique}", f"agr-{unique}"
    await create_topics(settings, [spec_for(SystemTopic.AGREEMENTS), spec_for(SystemTopic.AGENCIES)])
    agreement = {
        "id": agreement_id,
        "provider": provider,
        "consumer": consumer,
        "record_type": "person",
        "fields": ["iin"],
        "purpose": "test",
        "legal_basis": "test",
        "valid_from": "2024-01-01",
    }
    signer = AgencyEntry(id=f"sign-{unique}", name="signs", public_keys={"k": "x"})
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            SystemTopic.AGREEMENTS, key=agreement_id.encode(), value=json.dumps(agreement).encode()
        )
        await producer.send_and_wait(
            SystemTopic.AGENCIES, key=signer.id.encode(), value=signer.model_dump_json().encode()
        )
    finally:
        await producer.stop()
    return provider, consumer, signer.id


def test_export_reads_the_applied_agreements_and_signing_agencies_from_the_broker(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    provider, consumer, signer = asyncio.run(_publish(kafka_settings, unique))
    args = ["acl", "export", "--bootstrap", kafka_settings.bootstrap, "--profile", PROFILE]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert f"--allow-principal User:{provider} --operation Write --topic ingress.{provider}." in result.output
    assert f"--allow-principal User:{consumer} --operation Read --topic deliver.{consumer}." in result.output
    assert f"--allow-principal User:{signer} --operation Write --topic ingress.{signer}." in result.output
