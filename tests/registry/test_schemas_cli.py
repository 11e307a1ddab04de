"""``bus schemas`` and ``bus agencies`` from a shell, against the real registry and broker."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bus.registry.catalogue import load_catalogue
from tests.conftest import REPO
from tests.engine import PROFILE
from tests.processes import bus


def test_apply_registers_every_canonical_schema_idempotently(registry_url: str, operator_token: str) -> None:
    # given the canonical schemas folder and who publishes what
    expected = {entry.subject for entry in load_catalogue(REPO / "schemas")}
    env = {"BUS_REGISTRY_URL": registry_url, "BUS_OPERATOR_TOKEN": operator_token}
    # when it is applied twice
    first = bus("schemas", "apply", str(REPO / "schemas"), env=env)
    ids_after_first = {
        s: httpx.get(f"{registry_url}/subjects/{s}/versions/latest").json()["id"] for s in expected
    }
    second = bus("schemas", "apply", str(REPO / "schemas"), env=env)
    # then every subject exists once, with one version and the same id both times
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert expected <= set(httpx.get(f"{registry_url}/subjects").json())
    assert "ingress.civil-registry.person-value" in expected
    for subject in expected:
        assert httpx.get(f"{registry_url}/subjects/{subject}/versions").json() == [1]
        assert (
            httpx.get(f"{registry_url}/subjects/{subject}/versions/latest").json()["id"]
            == ids_after_first[subject]
        )


def test_check_explains_an_incompatible_change(
    registry_url: str, operator_token: str, unique: str, tmp_path: Path
) -> None:
    # given a registered v1 and a v2 that adds a required field
    subject = f"ingress.cli-{unique}.thing-value"
    v1 = {
        "type": "record",
        "name": "Thing",
        "namespace": "gov.test",
        "fields": [{"name": "a", "type": "string"}],
    }
    v2 = {**v1, "fields": [*v1["fields"], {"name": "b", "type": "int"}]}
    (tmp_path / "v1.avsc").write_text(json.dumps(v1))
    (tmp_path / "v2.avsc").write_text(json.dumps(v2))
    env = {"BUS_REGISTRY_URL": registry_url, "BUS_TOKEN": operator_token}
    registered = bus("schemas", "register", str(tmp_path / "v1.avsc"), "--subject", subject, env=env)
    # when v2 is checked
    checked = bus("schemas", "check", str(tmp_path / "v2.avsc"), "--subject", subject, env=env)
    # then it is refused with the reason, and nothing was registered
    assert registered.returncode == 0, registered.stderr
    assert "version 1" in registered.stdout
    assert checked.returncode == 1
    assert "incompatible" in checked.stdout
    assert "cannot read data written with version 1" in checked.stdout
    assert httpx.get(f"{registry_url}/subjects/{subject}/versions").json() == [1]


def test_register_with_a_missing_file_is_an_actionable_error(registry_url: str, tmp_path: Path) -> None:
    result = bus(
        "schemas",
        "register",
        str(tmp_path / "nope.avsc"),
        "--subject",
        "s-value",
        env={"BUS_REGISTRY_URL": registry_url},
    )
    assert result.returncode == 1
    assert "cannot read schema file" in result.stderr


def test_registry_unreachable_is_reported_not_traced(tmp_path: Path) -> None:
    result = bus("schemas", "list", "--registry", "http://127.0.0.1:1")
    assert result.returncode == 1
    assert "cannot reach the schema registry" in result.stderr
    assert "Traceback" not in result.stderr


def test_agency_added_by_cli_can_register_its_own_subject(
    kafka_bootstrap: str, registry_url: str, unique: str, tmp_path: Path
) -> None:
    # given an agency added from the shell, which prints its token once
    agency = f"akimat-{unique}"
    added = bus(
        "agencies",
        "add",
        agency,
        "--name",
        "Kosshy town akimat",
        "--bootstrap",
        kafka_bootstrap,
        "--profile",
        PROFILE,
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    listed = bus("agencies", "list", "--bootstrap", kafka_bootstrap, "--profile", PROFILE)
    assert agency in listed.stdout
    assert token not in listed.stdout
    # when it registers a schema for its own ingress topic with that token
    schema = tmp_path / "livestock.avsc"
    schema.write_text(
        json.dumps({"type": "record", "name": "Livestock", "namespace": "gov.agri", "fields": []})
    )
    subject = f"ingress.{agency}.livestock-value"
    for _ in range(50):  # the registry follows bus.agencies asynchronously
        result = bus(
            "schemas",
            "register",
            str(schema),
            "--subject",
            subject,
            "--registry",
            registry_url,
            "--token",
            token,
        )
        if "unauthorized" not in result.stderr:
            break
    # then it is accepted
    assert result.returncode == 0, result.stderr


def test_adding_an_existing_agency_needs_rotate(kafka_bootstrap: str, unique: str) -> None:
    args = (
        "agencies",
        "add",
        f"tax-{unique}",
        "--name",
        "Tax",
        "--bootstrap",
        kafka_bootstrap,
        "--profile",
        PROFILE,
    )
    assert bus(*args).returncode == 0
    again = bus(*args)
    assert again.returncode == 1
    assert "--rotate" in again.stderr
    assert bus(*args, "--rotate").returncode == 0
