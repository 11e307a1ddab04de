"""The catalogue, AsyncAPI documents and access requests on a running bus (real broker, registry, HTTP)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import httpx
import typer
import yaml
from jsonschema import Draft7Validator

from bus.catalogue.asyncapi import DELIVERY_HEADERS, DELIVERY_REQUIRED
from bus.cli import acl, agreements, catalogue
from bus.cli.agreements import current_agreements
from bus.event.envelope import ChangeKind
from bus.policy.agreement import load_agreement_file
from bus.registry.client import RegistryClient
from connectors.sdk import Change
from tests.catalogue.asyncapi_check import avro_errors, schema_errors
from tests.engine import PROFILE
from tests.people import person
from tests.support.cli import BusRunner
from tests.support.eventually import eventually_sync
from tests.tracker.stack import Stack

runner = BusRunner()


def _app() -> typer.Typer:
    """The commands as bus/cli/app.py registers them."""
    root = typer.Typer()
    root.command("catalogue")(catalogue.catalogue)
    root.command("asyncapi")(catalogue.asyncapi)
    root.add_typer(acl.app, name="acl")
    root.add_typer(agreements.app, name="agreements")
    return root


def _cli(*args: str) -> str:
    result = runner.invoke(_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _on(stack: Stack) -> list[str]:
    """The options that point a command at the stack's broker (logged in as the operator)."""
    return ["--bootstrap", stack.world.settings.bootstrap, "--profile", PROFILE]


def _registry(stack: Stack) -> list[str]:
    return ["--registry", stack.world.registry_url]


def _own_type(body: dict[str, Any], stack: Stack) -> dict[str, Any]:
    return next(t for t in body["record_types"] if t["provider"] == stack.world.provider)


def _catalogue(stack: Stack) -> dict[str, Any]:
    response = stack.get("/v1/catalogue", "tax")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_catalogue_needs_a_token(stack: Stack) -> None:
    assert stack.get("/v1/catalogue", None).status_code == 401
    assert stack.get(f"/v1/agencies/{stack.tax.consumer}/asyncapi.yaml", None).status_code == 401


def test_the_catalogue_agrees_with_the_registry_and_the_applied_agreements(stack: Stack) -> None:
    own = _own_type(_catalogue(stack), stack)

    async def registered() -> tuple[dict[str, Any], str]:
        async with RegistryClient(stack.world.registry_url) as registry:
            subject = f"{stack.world.topic}-value"
            return await registry.latest(subject), await registry.level(subject)

    latest, level = stack.run(registered())
    assert (own["version"], own["schema_id"], own["compatibility"]) == (
        latest["version"],
        latest["id"],
        level,
    )
    assert own["provider_name"] == "Civil registry"
    assert {a["id"]: a["fields"] for a in own["agreements"]} == {
        stack.tax.id: list(stack.tax.fields),
        stack.health.id: list(stack.health.fields),
    }
    health = next(a for a in own["agreements"] if a["id"] == stack.health.id)
    assert (health["consent"], health["legal_basis"], health["in_force"]) == (
        "required",
        "Law on health, Art. 1",
        True,
    )
    docs = {f["path"]: f["doc"] for f in own["fields"]}
    assert docs["registered_address.settlement"] == "City, town or village."


def test_the_catalogue_follows_an_agreement_applied_changed_and_revoked_within_10_s(stack: Stack) -> None:
    police = stack.world.agreement("police", ("iin", "surname"))

    def police_fields() -> list[str] | None:
        found = [a for a in _own_type(_catalogue(stack), stack)["agreements"] if a["id"] == police.id]
        return found[0]["fields"] if found else None

    stack.run(stack.world.apply(police))
    assert eventually_sync(police_fields, timeout_s=10) == ["iin", "surname"]
    stack.run(stack.world.apply(police.model_copy(update={"fields": ("iin", "surname", "birth_date")})))
    eventually_sync(lambda: police_fields() == ["iin", "surname", "birth_date"] or None, timeout_s=10)
    stack.run(stack.world.apply(revoke=[police.id]))
    eventually_sync(lambda: police_fields() is None or None, timeout_s=10)


def _acl_topics(export: str, agency: str) -> dict[str, set[tuple[str, str]]]:
    """``bus acl export`` lines of ``User:<agency>``: operation → {(topic, pattern)}."""
    found: dict[str, set[tuple[str, str]]] = {}
    for line in export.splitlines():
        if not line.startswith("acl ") or " --cluster" in line:  # cluster grants name no resource
            continue
        args = shlex.split(line.partition("  #")[0])[1:]
        option = dict(zip(args[::2], args[1::2], strict=True))
        if option.get("--allow-principal") == f"User:{agency}" and "--topic" in option:
            found.setdefault(option["--operation"], set()).add(
                (option["--topic"], option["--resource-pattern-type"])
            )
    return found


def _document_channels(stack: Stack, agency: str, asyncapi_schema: Draft7Validator) -> dict[str, set[str]]:
    response = stack.get(f"/v1/agencies/{agency}/asyncapi.yaml", "tax")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(response.text)
    assert schema_errors(asyncapi_schema, document) == []
    assert avro_errors(document) == []
    found: dict[str, set[str]] = {"send": set(), "receive": set()}
    for operation in document["operations"].values():
        channel = document["channels"][operation["channel"]["$ref"].split("/")[-1]]
        found[operation["action"]].add(channel["address"])
    return found


def test_an_agencys_asyncapi_lists_exactly_the_channels_its_broker_acls_allow(
    stack: Stack, asyncapi_schema: Draft7Validator
) -> None:
    export = _cli("acl", "export", *_on(stack))
    consumer, provider = stack.tax.consumer, stack.world.provider

    acls = _acl_topics(export, consumer)
    assert acls["Write"] == {("bus.receipts", "literal")}  # a consumer writes only its receipts
    assert _document_channels(stack, consumer, asyncapi_schema) == {
        "send": {"bus.receipts"},
        "receive": {topic for topic, pattern in acls["Read"] if pattern == "literal"},
    }
    acls = _acl_topics(export, provider)
    [prefix] = [name for name, kind in acls["Write"] if kind == "prefixed"]

    async def registered_topics() -> set[str]:
        async with RegistryClient(stack.world.registry_url) as registry:
            return {s.removesuffix("-value") for s in await registry.subjects() if s.endswith("-value")}

    channels = _document_channels(stack, provider, asyncapi_schema)
    ingress = channels["send"] - {"bus.receipts"}
    assert ingress == {t for t in stack.run(registered_topics()) if t.startswith(prefix)}
    assert ingress == {stack.world.topic}
    assert channels["receive"] == {topic for topic, _ in acls["Read"]} == {"bus.agreements"}


def test_a_real_delivery_carries_the_headers_the_document_describes(stack: Stack) -> None:
    citizen = person(9601)
    [event] = stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))

    def delivered() -> Any:
        found = [
            r
            for r in stack.run(stack.world.deliveries(stack.tax))
            if dict(r.headers)["ce_id"] == event.encode()
        ]
        return found[0] if found else None

    record = eventually_sync(delivered, timeout_s=30)
    names = [name for name, _ in record.headers]
    assert set(names) <= set(DELIVERY_HEADERS)
    assert set(DELIVERY_REQUIRED) <= set(names)


def test_an_unknown_agency_has_no_document(stack: Stack) -> None:
    response = stack.get("/v1/agencies/nobody-here/asyncapi.yaml", "tax")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_agency"
    assert stack.tax.consumer in response.json()["hint"]


def test_the_cli_prints_the_same_catalogue_and_asyncapi_document_as_the_api(stack: Stack) -> None:
    printed = yaml.safe_load(_cli("catalogue", "--format", "json", *_registry(stack), *_on(stack)))
    assert _own_type(printed, stack) == _own_type(_catalogue(stack), stack)
    assert "## person — Civil registry" in _cli(
        "catalogue", "--format", "markdown", *_registry(stack), *_on(stack)
    )
    consumer = stack.tax.consumer
    api = stack.get(f"/v1/agencies/{consumer}/asyncapi.yaml", "tax").text
    assert _cli("asyncapi", consumer, *_registry(stack), *_on(stack)) == api


def test_an_access_request_is_a_draft_until_the_operator_applies_it(stack: Stack, tmp_path: Path) -> None:
    consumer = stack.world.consumer("pension")
    draft = tmp_path / f"{stack.world.provider}-to-{consumer}-person.yaml"  # named after its id
    summary = _cli(
        *shlex.split(
            f"agreements request --consumer {consumer} --provider {stack.world.provider} --type person "
            "--fields iin,birth_date --purpose 'paying pensions at the right age' "
            f"--legal-basis 'Social Code, Art. 200' --replaces 'certificate of birth' -o {tmp_path}"
        ),
        *_registry(stack),
    )
    request = load_agreement_file(draft)
    assert f"to whom:   {consumer}, on topic deliver.{consumer}." in summary
    assert "Date of birth." in summary  # each granted field with its doc
    assert _cli("agreements", "review", str(draft), *_registry(stack)) in summary
    assert request.id not in stack.run(current_agreements(stack.world.settings))  # nothing took effect

    stack.run(stack.world.apply(request))  # what `bus agreements apply` does with the reviewed file

    def listed() -> bool | None:
        return any(a["id"] == request.id for a in _own_type(_catalogue(stack), stack)["agreements"]) or None

    eventually_sync(listed, timeout_s=10)
    stack.run(stack.world.apply(revoke=[request.id]))


def test_an_access_request_for_a_field_the_provider_lacks_writes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    args = shlex.split(
        f"agreements request --consumer {stack.world.consumer('pension')} --provider {stack.world.provider} "
        f"--type person --fields iin,salary --purpose p --legal-basis law -o {tmp_path}"
    )
    result = runner.invoke(_app(), [*args, *_registry(stack)])
    assert result.exit_code == 1
    assert "field path 'salary' does not exist" in " ".join(result.output.split())  # unwrapped
    assert list(tmp_path.iterdir()) == []


def test_the_catalogue_holds_no_credential_of_any_agency(stack: Stack) -> None:
    assert (
        httpx.get(f"{stack.url}/v1/catalogue", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    response = stack.get("/v1/catalogue", "portal")
    assert response.status_code == 200

    def keys(node: Any) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for value in node.values() for k in keys(value)}
        return {k for value in node for k in keys(value)} if isinstance(node, list) else set()

    assert keys(response.json()) & {"token_hashes", "public_keys", "webhook", "secret", "password"} == set()
    assert all(token not in response.text for token in stack.tokens.values())
