"""``bus agreements`` and ``bus dlq`` from a shell, against the real broker and registry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml

from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings, read_to_end
from bus.policy.agreements_view import AgreementsView
from tests.conftest import REPO
from tests.engine import PROFILE
from tests.people import person
from tests.processes import bus
from tests.processor.test_dead_letters import send_raw
from tests.support.eventually import eventually
from tests.support.world import World


def write_agreement(folder: Path, world: World, name: str, fields: list[str]) -> None:
    agreement = world.agreement(name, fields)
    document = agreement.model_dump(mode="json", exclude_none=True)
    (folder / f"{agreement.id}.yaml").write_text(yaml.safe_dump(document))


def active_ids(settings: KafkaSettings) -> set[str]:
    view = AgreementsView()
    for record in asyncio.run(read_to_end(settings, SystemTopic.AGREEMENTS)):
        view.apply(record)
    return set(view.active)


def test_apply_adds_then_revokes_a_removed_file(world: World, kafka_bootstrap: str, tmp_path: Path) -> None:
    # given a folder with two agreements for the world's provider
    folder = tmp_path / "agreements"
    folder.mkdir()
    write_agreement(folder, world, "tax", ["iin", "surname"])
    write_agreement(folder, world, "social", ["iin", "registered_address"])
    args = ("--registry", world.registry_url, "--bootstrap", kafka_bootstrap, "--profile", PROFILE)
    # when it is validated and applied, then one file is removed and it is applied again
    validated = bus("agreements", "validate", str(folder), "--registry", world.registry_url)
    first = bus("agreements", "apply", str(folder), *args)
    (folder / f"social-{world.unique}.yaml").unlink()
    second = bus("agreements", "apply", str(folder), *args)
    # then the diff is printed and the removed agreement is revoked
    assert validated.returncode == 0, validated.stderr
    assert first.returncode == 0, first.stderr
    assert f"add tax-{world.unique}" in first.stdout
    assert f"revoke social-{world.unique}" in second.stdout
    ids = active_ids(world.settings)
    assert f"tax-{world.unique}" in ids
    assert f"social-{world.unique}" not in ids


def test_validate_names_a_field_the_schema_lacks(world: World, tmp_path: Path) -> None:
    write_agreement(tmp_path, world, "tax", ["iin", "shoe_size"])
    result = bus("agreements", "validate", str(tmp_path), "--registry", world.registry_url)
    assert result.returncode == 1
    assert "shoe_size" in result.stderr


def test_the_demo_agreements_are_valid_files() -> None:
    from bus.policy.agreement import load_agreements

    assert len(load_agreements(REPO / "deploy" / "agreements")) >= 7


async def test_dlq_list_shows_the_reason_and_replay_reinjects_unchanged(
    world: World, kafka_bootstrap: str
) -> None:
    # given one dead letter (bytes that are not Avro)
    async with world.processor():
        await send_raw(world, person(40)["iin"], b"\x07garbage")
        await eventually(world.dead_letters)
    args = ("--bootstrap", kafka_bootstrap, "--profile", PROFILE)
    # when it is listed and replayed
    listed = await asyncio.to_thread(bus, "dlq", "list", world.provider, *args)
    replayed = await asyncio.to_thread(bus, "dlq", "replay", world.provider, *args)
    # then the reason shows, and the original record is back on its ingress topic, bytes and ce_id intact
    assert "magic_byte_wrong" in listed.stdout
    assert replayed.returncode == 0, replayed.stderr
    ingress = await world.records(world.topic)
    assert [r.value for r in ingress] == [b"\x07garbage", b"\x07garbage"]
    assert dict(ingress[0].headers)["ce_id"] == dict(ingress[1].headers)["ce_id"]
    assert "bus_dlq_reason" not in dict(ingress[1].headers)


def test_an_agreement_without_the_later_fields_is_written_as_before_they_existed(
    world: World, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # given an agreement with neither a purpose code nor a disclosure, applied
    write_agreement(tmp_path, world, "pension", ["iin"])
    args = ("--registry", world.registry_url, "--bootstrap", kafka_bootstrap, "--profile", PROFILE)
    assert bus("agreements", "apply", str(tmp_path), *args).returncode == 0
    # then its record on bus.agreements has no key for them (components not yet upgraded read it)
    [value] = [
        r.value
        for r in asyncio.run(read_to_end(world.settings, SystemTopic.AGREEMENTS))
        if r.key == f"pension-{world.unique}".encode() and r.value is not None
    ]
    assert set(json.loads(value)) <= {
        "id", "provider", "consumer", "record_type", "fields", "purpose", "legal_basis", "valid_from",
        "valid_until", "consent", "where", "replaces",
    }  # fmt: skip
