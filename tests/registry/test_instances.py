"""State is rebuilt from bus.schemas; two instances at once never disagree on an id."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import running_registry


def schema(name: str, extra_fields: int = 0) -> str:
    fields = [{"name": f"f{i}", "type": ["null", "string"], "default": None} for i in range(extra_fields)]
    return json.dumps({"type": "record", "name": name, "namespace": "gov.test", "fields": fields})


def snapshot(url: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every version of every subject under ``prefix``, as the registry at ``url`` sees it."""
    subjects = [s for s in httpx.get(f"{url}/subjects").json() if s.startswith(prefix)]
    return {
        s: [
            httpx.get(f"{url}/subjects/{s}/versions/{v}").json()
            for v in httpx.get(f"{url}/subjects/{s}/versions").json()
        ]
        for s in subjects
    }


def test_a_new_instance_rebuilds_identical_subjects_versions_and_ids(
    kafka_bootstrap: str, operator_token: str, unique: str
) -> None:
    prefix = f"ingress.restart-{unique}."
    headers = {"Authorization": f"Bearer {operator_token}"}
    # given a registry that registered versions in three subjects, then stopped
    with running_registry(kafka_bootstrap, operator_token) as first:
        for subject_no in range(3):
            for fields in range(3):
                response = httpx.post(
                    f"{first}/subjects/{prefix}t{subject_no}-value/versions",
                    json={"schema": schema(f"T{subject_no}", fields)},
                    headers=headers,
                )
                assert response.status_code == 200, response.text
        before = snapshot(first, prefix)
    # when a new instance starts on the same broker
    with running_registry(kafka_bootstrap, operator_token) as second:
        after = snapshot(second, prefix)
    # then it serves exactly the same subjects, versions and ids
    assert len(before) == 3
    assert after == before


def test_two_instances_writing_at_once_never_share_an_id(
    kafka_bootstrap: str, operator_token: str, unique: str
) -> None:
    prefix = f"ingress.twins-{unique}."
    headers = {"Authorization": f"Bearer {operator_token}"}
    with (
        running_registry(kafka_bootstrap, operator_token) as a,
        running_registry(kafka_bootstrap, operator_token) as b,
    ):
        # given 20 distinct schemas, each registered under two subjects through both instances at once
        jobs = [
            (url, f"{prefix}{side}{n}-value", schema(f"S{n}"))
            for n in range(20)
            for side in ("left", "right")
            for url in (a, b)
        ]

        def register(job: tuple[str, str, str]) -> tuple[str, int]:
            url, subject, text = job
            response = httpx.post(
                f"{url}/subjects/{subject}/versions", json={"schema": text}, headers=headers, timeout=30
            )
            assert response.status_code == 200, response.text
            return text, int(response.json()["id"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(register, jobs))
        # then each schema has exactly one id and no id names two schemas
        ids_by_schema: dict[str, set[int]] = {}
        for text, schema_id in results:
            ids_by_schema.setdefault(text, set()).add(schema_id)
        assert all(len(ids) == 1 for ids in ids_by_schema.values())
        all_ids = [next(iter(ids)) for ids in ids_by_schema.values()]
        assert len(set(all_ids)) == len(all_ids) == 20
        # and both instances describe the same state
        assert snapshot(a, prefix) == snapshot(b, prefix)
