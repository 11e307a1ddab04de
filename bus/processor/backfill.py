"""Backfill: deliver the current state of every subject to a newly connected agreement.

``bus backfill <agreement>`` writes a request to ``bus.backfill``; every processor worker follows
that topic and, between its live batches, snapshots the keys of the partitions it owns through
the same policy as live events (``Pipeline.snapshot``). Being the keys' only writer is what keeps
a snapshot from overtaking a newer live update. Workers report progress per partition on the same
compacted topic (``<request>/<partition>``), which is how the CLI draws its progress bar and how a
restarted worker skips partitions already finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from bus.audit.entry import Decision
from bus.event import topics
from bus.ids import TopicName
from bus.processor.outputs import Output
from bus.processor.pipeline import Result

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord, TopicPartition

    from bus.processor.pipeline import Pipeline
    from bus.processor.routes import Route, Routes
    from bus.processor.state import StateStore

log = logging.getLogger(__name__)
_NAMESPACE = uuid.UUID("6f1c2d3e-4b5a-5c6d-8e7f-0a1b2c3d4e5f")  # fixed forever: ids must not change


class BackfillRequest(BaseModel):
    """Value of ``bus.backfill`` under the request id: snapshot every subject for one agreement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    agreement: str
    requested_at: datetime


class BackfillProgress(BaseModel):
    """Value under ``<request id>/<partition>``: one worker's count for one partition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: str
    partition: int
    total: int
    scanned: int = 0
    delivered: int = 0
    denied: int = 0
    done: bool = False
    note: str | None = None


def snapshot_event_id(agreement: str, key: str, sequence: int | None, value: bytes) -> str:
    """Deterministic ``ce_id`` (DESIGN §8): re-running a backfill re-produces the same ids."""
    version = str(sequence) if sequence is not None else hashlib.sha256(value).hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"{agreement}/{key}/{version}"))


def progress_key(request: str, partition: int) -> str:
    return f"{request}/{partition}"


class BackfillView:
    """Requests and per-partition progress, reduced from ``bus.backfill`` (latest per key)."""

    def __init__(self) -> None:
        self.requests: dict[str, BackfillRequest] = {}
        self.progress: dict[tuple[str, int], BackfillProgress] = {}

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        key = record.key.decode("utf-8", "replace") if record.key else ""
        if record.value is None:
            self.requests.pop(key, None)
            return
        try:
            data = json.loads(record.value)
            if "/" in key:
                progress = BackfillProgress.model_validate(data)
                self.progress[(progress.request, progress.partition)] = progress
            else:
                request = BackfillRequest.model_validate(data)
                self.requests[request.id] = request
        except (ValueError, ValidationError):
            log.warning("ignoring malformed bus.backfill record %r at offset %s", key, record.offset)

    def finished(self, request: str, partition: int) -> bool:
        found = self.progress.get((request, partition))
        return found is not None and found.done


@dataclass
class _Job:
    request: BackfillRequest
    route: Route
    provider: str
    rtype: str
    keys: list[str]
    position: int = 0
    counts: dict[int, BackfillProgress] = field(default_factory=dict)


class Backfiller:
    """Works through open requests for the partitions this worker owns, one chunk per step."""

    def __init__(self, view: BackfillView, state: StateStore, routes: Routes, chunk: int = 500) -> None:
        self._view = view
        self._state = state
        self._routes = routes
        self._chunk = chunk
        self._job: _Job | None = None

    def reset(self) -> None:
        """After a rebalance: the owned partitions changed, so start the current request over."""
        self._job = None

    def pending(self, assignment: set[TopicPartition]) -> bool:
        return self._job is not None or self._next_job(assignment) is not None

    async def step(self, pipeline: Pipeline, assignment: set[TopicPartition], now: datetime) -> Result:
        """Snapshot the next chunk of keys: their outputs and audit entries, and progress records."""
        job = self._job or self._next_job(assignment)
        if job is None:
            return Result()
        self._job = job
        chunk = job.keys[job.position : job.position + self._chunk]
        job.position += len(chunk)
        state_topic = topics.state(job.provider, job.rtype)
        await pipeline.prefetch_values(
            [s.value for s in (self._state.get(state_topic, k) for k in chunk) if s is not None]
        )
        done = Result()
        touched: set[int] = set()
        for key in chunk:
            current = self._state.get(state_topic, key)
            if current is None or current.value is None:
                continue
            event_id = snapshot_event_id(job.request.agreement, key, current.sequence, current.value)
            result = pipeline.snapshot(job.route, job.provider, job.rtype, key, event_id, now)
            done.outputs += result.outputs
            done.audit += result.audit
            counts = job.counts[current.partition]
            delivered = sum(1 for e in result.audit if e.decision is Decision.BACKFILLED)
            job.counts[current.partition] = counts.model_copy(
                update={
                    "scanned": counts.scanned + 1,
                    "delivered": counts.delivered + delivered,
                    "denied": counts.denied + len(result.audit) - delivered,
                }
            )
            touched.add(current.partition)
        finished = job.position >= len(job.keys)
        if finished:
            touched = set(job.counts)
            self._job = None
        for partition in sorted(touched):
            progress = job.counts[partition].model_copy(update={"done": finished})
            if finished:
                self._view.progress[(job.request.id, partition)] = progress
            done.outputs.append(_progress_output(progress))
        return done

    def _next_job(self, assignment: set[TopicPartition]) -> _Job | None:
        for request in sorted(self._view.requests.values(), key=lambda r: r.requested_at):
            route = self._route(request.agreement)
            if route is None:
                continue  # not active or not compiled: the CLI refuses such requests up front
            provider, rtype = route.compiled.agreement.provider, route.compiled.agreement.record_type
            ingress = topics.ingress(provider, rtype)
            owned = {tp.partition for tp in assignment if tp.topic == ingress}
            open_partitions = {p for p in owned if not self._view.finished(request.id, p)}
            if not open_partitions:
                continue
            keys = self._state.keys(topics.state(provider, rtype), open_partitions)
            counts = {p: BackfillProgress(request=request.id, partition=p, total=0) for p in open_partitions}
            for key in keys:
                state = self._state.get(topics.state(provider, rtype), key)
                assert state is not None
                counts[state.partition] = counts[state.partition].model_copy(
                    update={"total": counts[state.partition].total + 1}
                )
            return _Job(request, route, provider, rtype, keys, counts=counts)
        return None

    def _route(self, agreement_id: str) -> Route | None:
        for route in self._routes.all_routes():
            if route.compiled.agreement.id == agreement_id:
                return route
        return None


def _progress_output(progress: BackfillProgress) -> Output:
    return Output(
        TopicName(topics.SystemTopic.BACKFILL),
        progress_key(progress.request, progress.partition).encode(),
        progress.model_dump_json().encode(),
        [],
    )
