"""Schemathesis against the registry's and the gateway's OpenAPI, over real HTTP on loopback.

Every operation of the registry, and the gateway's ingest, audit (tracker), consent and tracker
page operations, get generated requests (valid and invalid) with a token that may write; the
checks are: no 5xx, and every documented response conforms to its schema. Failures of all
operations are collected and reported together. Generated bodies are small, so the inputs that
once gave a 500 (issue #25: batches over a produce request, a record over the topic's limit, an
event written after the provider evolved its schema) are added as explicit cases under the same checks.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from bus.registry.subjects import RECHECK_S
from tests.api.conftest import ApiStack
from tests.conftest import REPO
from tests.people import person

EXAMPLES = 25  # per operation
GATEWAY_SCOPE = ("/v1/events", "/v1/audit", "/v1/consent", "/tracker/")


def _exercise(
    schema: Any, base_url: str, headers: dict[str, str], wanted: tuple[str, ...] = ()
) -> tuple[list[str], Counter[int]]:
    """(failures, how many answers of each status) over every wanted operation."""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    exercised = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if wanted and not operation.path.startswith(wanted):
            continue
        exercised += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
            except Exception as exc:  # collected: one report for every operation
                failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {exc}"[:600])

        check()
    assert exercised, "no operation was exercised"
    total = sum(statuses.values())
    print(f"schemathesis {base_url}: {exercised} operations, {total} requests, {dict(statuses)}")
    return failures, statuses


def test_the_registry_api_never_answers_5xx_and_conforms_to_its_schema(api_stack: ApiStack) -> None:
    # given the registry's OpenAPI and the operator token (every write allowed, on this stack's broker)
    schema = schemathesis.openapi.from_url(f"{api_stack.registry_url}/openapi.json")
    # when Schemathesis sends generated requests to every operation
    operator = {"Authorization": f"Bearer {api_stack.operator_token}"}
    failures, statuses = _exercise(schema, api_stack.registry_url, operator)
    # then none failed, and the requests reached the handlers (not only validation errors)
    assert failures == [], "\n".join(failures)
    assert statuses[200] > 0


def test_the_gateway_api_never_answers_5xx_and_conforms_to_its_schema(api_stack: ApiStack) -> None:
    # given the gateway's OpenAPI and an agency token (ingest) / the operator token (reads, consent)
    schema = schemathesis.openapi.from_url(f"{api_stack.gateway_url}/openapi.json")
    # when Schemathesis sends generated requests to its ingest, audit, consent and tracker operations
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for who, scope in (("provider", GATEWAY_SCOPE[:1]), ("operator", GATEWAY_SCOPE[1:])):
        found, answered = _exercise(schema, api_stack.gateway_url, api_stack.bearer(who), scope)
        failures += found
        statuses += answered
    # then none failed, and the requests reached the handlers (not only validation errors)
    assert failures == [], "\n".join(failures)
    assert statuses[200] > 0


def _as_json(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in record.items()}


def _evolve_person_schema(stack: ApiStack) -> None:
    """The provider's BACKWARD-compatible next version: surname optional, a nickname added."""
    schema = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text())
    for item in schema["fields"]:
        if item["name"] == "surname":
            item.update(type=["null", "string"], default=None)
    schema["fields"].append({"name": "nickname", "type": ["null", "string"], "default": None})
    subject, operator = (
        f"ingress.{stack.provider}.person-value",
        {"Authorization": f"Bearer {stack.operator_token}"},
    )
    # the subject's own level: Schemathesis may have set the global one to anything before this test
    level = httpx.put(
        f"{stack.registry_url}/config/{subject}", json={"compatibility": "BACKWARD"}, headers=operator
    )
    assert level.status_code == 200, level.text
    response = httpx.post(
        f"{stack.registry_url}/subjects/{subject}/versions",
        json={"schema": json.dumps(schema)},
        headers=operator,
    )
    assert response.status_code == 200, response.text


def test_large_batches_and_an_evolved_schema_never_make_the_gateway_answer_5xx(api_stack: ApiStack) -> None:
    # given the provider's person schema evolved (surname optional) after the gateway cached the old
    # version (earlier tests published persons), that cache older than RECHECK_S, and the gateway's OpenAPI
    _evolve_person_schema(api_stack)
    time.sleep(RECHECK_S)
    schema = schemathesis.openapi.from_url(f"{api_stack.gateway_url}/openapi.json")
    single, batch = schema["/v1/events/{record_type}"]["POST"], schema["/v1/events:batch"]["POST"]

    def event(n: int, **overrides: Any) -> dict[str, Any]:
        return {"record_type": "person", "kind": "created", "record": _as_json(person(n, **overrides))}

    cases = [
        # a batch under the body limit whose records together exceed one produce request
        batch.Case(body={"events": [event(n, surname="S" * 600_000) for n in range(40, 44)]}),
        # a batch with one record larger than any produce request between two good ones
        batch.Case(body={"events": [event(44), event(45, surname="S" * (2 << 20)), event(46)]}),
        # a single record larger than any produce request
        single.Case(
            path_parameters={"record_type": "person"}, body=_as_json(person(47, surname="S" * (2 << 20)))
        ),
        # events written after the evolution: surname null, a nickname, one by one and in a batch
        single.Case(path_parameters={"record_type": "person"}, body=_as_json(person(48, surname=None))),
        batch.Case(body={"events": [event(49, surname=None, nickname="Bek"), event(50, nickname=None)]}),
    ]
    # when each is sent with the provider's token
    statuses: list[int] = []
    failures: list[str] = []
    for case in cases:
        response = case.call(base_url=api_stack.gateway_url, headers=api_stack.bearer("provider"), timeout=60)
        statuses.append(response.status_code)
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except Exception as exc:
            failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {exc}"[:600])
    # then none is a 5xx or off its documented schema: each is published, refused with 413, or per-record
    assert failures == [], "\n".join(failures)
    assert statuses == [200, 207, 413, 201, 200]
