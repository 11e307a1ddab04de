"""The processor's per-event CPU cost without a broker: ``Pipeline.process`` plus batch metrics.

The same 3 agreements and person records as the ``pipeline`` scenario, signed in batches of 500
as the publisher SDK does, processed in one tight loop; figures are CPU time of this thread
(``time.thread_time``), so they are less disturbed by other load than wall-clock rates. This is
the ceiling a worker could reach if the broker round trips cost nothing; ``--profile`` runs the
same loop under cProfile and writes the top entries to ``bench/profile-pipeline.txt``.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import json
import pstats
import time
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.world import people
from bus.audit.entry import AUDIT_SCHEMA
from bus.event.envelope import ChangeKind
from bus.event.serde import AvroSerde
from bus.event.signed_event import Draft, Signer, compose
from bus.event.signing import Verifier
from bus.ids import SchemaId
from bus.policy.agreement import Agreement
from bus.policy.agreements_view import AgreementsView
from bus.policy.compile import compile_agreement
from bus.policy.consent import ConsentView
from bus.processor.observe import count_decisions
from bus.processor.pipeline import Pipeline
from bus.processor.routes import Route, Routes
from bus.processor.state import StateStore
from bus.registry.client import RegistryClient
from tests.support.world import PERSON_SCHEMA

PROVIDER = "bench-civil"
TOPIC = f"ingress.{PROVIDER}.person"
GRANTS = {
    "tax": ("iin", "surname", "given_name", "registered_address"),
    "social": ("iin", "surname", "birth_date", "registered_address"),
    "portal": ("iin", "surname", "given_name", "patronymic", "registered_address", "document"),
}
PERSON_ID, AUDIT_ID = SchemaId(1), SchemaId(2)
PROFILE = Path(__file__).resolve().parent / "profile-pipeline.txt"


class _Routes(Routes):
    def __init__(self, routes: list[Route]) -> None:
        super().__init__(AgreementsView(), RegistryClient("http://127.0.0.1:9"))
        self._routes = routes

    def for_type(self, provider: str, record_type: str) -> list[Route]:
        return self._routes if (provider, record_type) == (PROVIDER, "person") else []

    def all_routes(self) -> list[Route]:
        return self._routes


def _world(count: int) -> tuple[Pipeline, list[ConsumerRecord[bytes, bytes]]]:
    schema = json.loads(PERSON_SCHEMA.read_text())
    routes = []
    for n, (name, grant) in enumerate(GRANTS.items()):
        agreement = Agreement(
            id=f"bench-{name}",
            provider=PROVIDER,
            consumer=f"bench-{name}",
            record_type="person",
            fields=grant,
            purpose=name,
            legal_basis="bench",
            valid_from=dt.date(2026, 1, 1),
        )
        compiled = compile_agreement(agreement, schema)
        routes.append(Route(compiled, SchemaId(10 + n), "gov.civil.Person", agreement.delivery_topic))
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    pipeline = Pipeline(
        registry=RegistryClient("http://127.0.0.1:9"),
        verifier=Verifier(lambda agency, key_id: public),
        routes=_Routes(routes),
        consent=ConsentView(),
        state=StateStore(),
        audit_schema_id=AUDIT_ID,
    )
    pipeline._texts.update({PERSON_ID: PERSON_SCHEMA.read_text(), AUDIT_ID: json.dumps(AUDIT_SCHEMA)})
    pipeline._texts.update({r.schema_id: json.dumps(r.compiled.schema) for r in routes})
    pipeline._subjects[PERSON_ID] = frozenset({f"{TOPIC}-value"})
    serde = AvroSerde({PERSON_ID: PERSON_SCHEMA.read_text()}.get)
    persons = people(count)
    records: list[ConsumerRecord[bytes, bytes]] = []
    for start in range(0, count, 500):
        chunk = persons[start : start + 500]
        values = [serde.encode(PERSON_ID, p) for p in chunk]
        drafts = [
            Draft(ChangeKind.CREATED, "gov.civil.Person", p["iin"], v, 1)
            for p, v in zip(chunk, values, strict=True)
        ]
        envelopes = compose(PROVIDER, "bench", Signer.of(key), drafts)
        for p, v, e in zip(chunk, values, envelopes, strict=True):
            offset = len(records)
            records.append(
                ConsumerRecord(TOPIC, 0, offset, 0, 0, p["iin"].encode(), v, None, 0, 0, e.to_headers())
            )
    return pipeline, records


def _loop(pipeline: Pipeline, records: list[ConsumerRecord[bytes, bytes]]) -> int:
    now = dt.datetime.now(dt.UTC)
    outputs = 0
    for start in range(0, len(records), 2000):
        entries = []
        for record in records[start : start + 2000]:
            result = pipeline.process(record, now)
            outputs += len(result.outputs)
            entries += result.audit
        count_decisions(entries, now)
    return outputs


def run(count: int, *, profile: bool = False) -> dict[str, Any]:
    """CPU µs per event over ``count`` distinct people (each a first version: full fan-out)."""
    pipeline, records = _world(count)
    _loop(*_world(200))  # warm caches (parsed schemas, verified roots of another key)
    started = time.thread_time()
    outputs = _loop(pipeline, records)
    cpu = time.thread_time() - started
    result: dict[str, Any] = {
        "events": count,
        "outputs_per_event": outputs / count,
        "cpu_us_per_event": cpu / count * 1e6,
        "events_per_cpu_s": count / cpu,
    }
    if profile:
        pipeline, records = _world(count)
        profiler = cProfile.Profile()
        profiler.enable()
        _loop(pipeline, records)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        PROFILE.write_text(
            f"cProfile of Pipeline.process over {count} events (bench/pipeline_cpu.py); "
            "times are inflated by the profiler, read them as shares\n" + text.getvalue()
        )
        result["profile"] = str(PROFILE.name)
    return result


if __name__ == "__main__":
    print(run(10_000, profile=True))
