"""Schemathesis against the registry's and the gateway's OpenAPI, over real HTTP on loopback.

Every operation of the registry, and the gateway's ingest, audit (tracker), consent and tracker
page operations, get generated requests (valid and invalid) with a token that may write; the
checks are: no 5xx, and every documented response conforms to its schema. Failures of all
operations are collected and reported together.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import ApiStack

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
