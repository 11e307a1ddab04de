"""Run the whole path as separate OS processes, SIGKILL them at seeded moments, then judge the result.

publisher (spool) → broker → processor → subscriber SDK (tax, police) and webhook dispatcher →
receiver (health) → audit archiver → SQLite archive. Every component is the installed ``bus``
command or a test process script (``tests/faults/*_worker.py``); each killed process is
restarted at once. The broker is this suite's own in-memory tansu (never killed: memory storage
would lose every topic, see ``test_spool_survives_a_broker_outage``), and the registry is
restarted once on its port.

The verdict comes only from what the agencies' handlers saw (their output files), the topics,
and the audit archive, held against the workload's oracle (``tests/faults/workload.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.acl.sync import reconcile
from bus.audit.keys import public_key_path
from bus.broker.kafka.cluster import KafkaCluster
from bus.directory.keys import ensure_service_key
from bus.directory.model import AgencyEntry, WebhookEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.event.envelope import Envelope
from bus.event.signing import key_id_for, private_key_pem, public_key_text
from bus.event.topics import SystemTopic, dlq, spec_for
from bus.gateway.consent_writer import record_consent
from bus.kafka.client import (
    KafkaSettings,
    create_system_topics,
    create_topics,
    make_admin,
    make_producer,
    read_to_end,
)
from bus.policy.consent import ConsentRecord, ConsentStatus
from bus.webhooks.message import new_secret
from tests.engine import PROFILE, login_env
from tests.faults.workload import Workload
from tests.support.logins import agency_login, settings_env

REPO = Path(__file__).resolve().parents[2]
KILLABLE = ("processor", "publisher", "subscriber", "dispatcher", "archiver")


@dataclass(frozen=True)
class Profile:
    """How big a run is and how many faults it gets."""

    subjects: int
    versions: int
    pace_s: float  # pause between the publisher's versions, so faults land mid-stream
    kills: dict[str, int]
    # on a 3-node Kafka cluster: "leader" (SIGKILL the leader of a hot ingress partition), "controller"
    # (SIGKILL the active KRaft controller), "stop" (SIGSTOP a node past its session, then SIGCONT),
    # "rolling" (restart all three nodes one after another); each node comes back before the next
    broker_faults: dict[str, int] = field(default_factory=dict)
    seed: int = 12
    drain_timeout_s: float = 240.0

    @property
    def changes(self) -> int:
        return self.subjects * self.versions


CI = Profile(
    subjects=200,
    versions=20,
    pace_s=4.0,
    kills={"processor": 3, "publisher": 2, "subscriber": 2, "dispatcher": 2, "archiver": 2},
    broker_faults={"leader": 1, "controller": 1, "stop": 1, "rolling": 1},
)
LONG = Profile(
    subjects=500,
    versions=40,
    pace_s=4.0,
    kills={"processor": 6, "publisher": 4, "subscriber": 4, "dispatcher": 4, "archiver": 4},
    broker_faults={"leader": 2, "controller": 2, "stop": 1, "rolling": 1},
    drain_timeout_s=600.0,
)
BROKER_STOP_S = 12.0  # past the nodes' broker.session.timeout.ms (9 s): the controller fences the node
BROKER_DOWN_S = 5.0  # a killed node stays down this long before it is restarted


@dataclass(frozen=True)
class Fault:
    at_s: float
    action: str  # "kill:<name>", "broker:<kind>", "registry", "stall", "unstall"


def schedule(profile: Profile, rng: random.Random, *, cluster: bool = False) -> list[Fault]:
    """Seeded fault moments within the publishing window; one process is never hit twice within 8 s.

    Broker faults (``cluster``) are spread evenly over the window in a seeded order; each blocks the
    schedule until its node is back and every partition fully replicated, so no two overlap."""
    window = profile.versions * profile.pace_s
    targets = [name for name, count in profile.kills.items() for _ in range(count)]
    rng.shuffle(targets)
    faults: list[Fault] = []
    last: dict[str, float] = {}
    for name in targets:
        span = window * (0.8 if name == "publisher" else 1.0)  # the publisher finishes first
        for _ in range(1000):
            at = rng.uniform(2.0, span)
            if at - last.get(name, -99.0) >= 8.0 and all(abs(at - f.at_s) >= 1.0 for f in faults):
                break
        last[name] = max(at, last.get(name, -99.0))
        faults.append(Fault(at, f"kill:{name}"))
    stall = rng.uniform(0.2 * window, 0.7 * window)
    faults += [Fault(stall, "stall"), Fault(stall + 6.0, "unstall")]
    faults.append(Fault(rng.uniform(0.3 * window, 0.9 * window), "registry"))
    if cluster:
        kinds = [kind for kind, count in profile.broker_faults.items() for _ in range(count)]
        rng.shuffle(kinds)
        faults += [Fault(window * (i + 0.5) / len(kinds), f"broker:{kind}") for i, kind in enumerate(kinds)]
    return sorted(faults, key=lambda f: f.at_s)


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    finished_ok: bool = False  # a run-to-completion process (the publisher) that exited 0
    _log_handle: IO[bytes] | None = None

    def start(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
        self._log_handle = self.log.open("ab")
        self._log_handle.write(f"--- start {self.starts + 1} at {time.time():.3f}\n".encode())
        self._log_handle.flush()
        self.popen = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, stdout=self._log_handle, stderr=subprocess.STDOUT
        )
        self.starts += 1

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> bool:
        """SIGKILL; True if it was running."""
        if not self.alive():
            return False
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        return True

    def terminate(self, timeout_s: float = 20.0) -> int | None:
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self._log_handle is not None:
            self._log_handle.close()
        return self.popen.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if re.search(pattern, self.output().rsplit("--- start", 1)[-1]):
                return
            if not self.alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no {pattern!r}; output:\n{self.output()[-3000:]}")


@dataclass
class Summary:
    faults: int
    kills: dict[str, int]
    delivered: int
    lost: int
    dup_before_dedup: int  # on the delivery topics, as a read_committed reader sees them
    dup_after_dedup: int
    order_violations: int
    unauthorised: int
    redelivered: int
    unexpected_exits: int
    audit_missing: int
    audit_verified: bool
    problems: list[str] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)  # components that exited on their own (restarted)

    def line(self) -> str:
        kills = ",".join(f"{k}:{v}" for k, v in self.kills.items())
        return (
            f"faults={self.faults} kills={sum(self.kills.values())} ({kills}) delivered={self.delivered} "
            f"lost={self.lost} dup_before_dedup={self.dup_before_dedup} "
            f"dup_after_dedup={self.dup_after_dedup} "
            f"order_violations={self.order_violations} unauthorised={self.unauthorised} "
            f"audit_missing={self.audit_missing} audit_verified={self.audit_verified} "
            f"redelivered={self.redelivered} unexpected_exits={self.unexpected_exits}"
        )


class FaultRun:
    """One run of the fault suite on its own broker (``bootstrap``), in ``tmp``."""

    def __init__(
        self,
        settings: KafkaSettings,
        tmp: Path,
        profile: Profile,
        unique: str,
        ports: Iterable[int],
        cluster: KafkaCluster | None = None,
    ) -> None:
        self.cluster = cluster  # a 3-node Kafka cluster gets broker faults too
        self.bootstrap = settings.bootstrap
        self.tmp = tmp
        self.profile = profile
        self.workload = Workload(unique, profile.subjects, profile.versions)
        self.settings = settings  # the operator; every component logs in as itself
        self.logins: dict[str, KafkaSettings] = {}  # the agencies' own
        self.operator_token = f"operator-{new_token()}"
        self.registry_port, self.receiver_port = ports
        self.registry_url = f"http://127.0.0.1:{self.registry_port}"
        self.secret = new_secret()
        self.tokens: dict[str, str] = {}
        self.procs: dict[str, Proc] = {}
        self.kills: Counter[str] = Counter()
        self.unexpected_exits: list[str] = []
        self.faults_done = 0

    # -- paths --------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.tmp / name

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.path('audit.sqlite')}"

    # -- set-up -------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """The services' keyring (each `bus` component logs in as itself); ``extra`` may give an
        agency's own login instead."""
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "BUS_OPS_PORT": "0"}
        env.pop("BUS_BOOTSTRAP", None)
        return {**env, **login_env(self.bootstrap), **extra}

    def login_env(self, agency: str) -> dict[str, str]:
        return settings_env(self.logins.get(agency, self.settings))

    def add(self, name: str, argv: list[str], **env: str) -> Proc:
        proc = Proc(name, argv, self.env(**env), self.path(f"{name}.log"))
        self.procs[name] = proc
        return proc

    def _define_processes(self) -> None:
        w, b, r = self.workload, self.bootstrap, self.registry_url
        common = ["--bootstrap", b, "--profile", PROFILE]
        py = [sys.executable, "-m"]
        self.add(
            "receiver",
            [*py, "tests.faults.receiver_worker", str(self.receiver_port), self.secret,
             str(self.path("receiver.out")), str(self.path("stall")), "3.0"],
        )  # fmt: skip
        self.add(
            "processor",
            ["bus", "processor", "run", "--group", f"bus-processor-{w.unique}", "--topics",
             rf"^ingress\.{w.provider}\..*", "--registry", r,
             "--signing-key", str(self.path("processor.pem")), *common],
            BUS_OPERATOR_TOKEN=self.operator_token,
        )  # fmt: skip
        self.add(
            "dispatcher",
            ["bus", "webhooks", "run", "--group", f"bus-webhooks-{w.unique}", "--registry", r, *common],
            BUS_WEBHOOKS_AGENCIES=json.dumps([w.consumer("health")]),
            BUS_WEBHOOKS_BACKOFF_BASE_S="0.05",
            BUS_WEBHOOKS_BACKOFF_MAX_S="1.0",
            BUS_WEBHOOKS_REQUEST_TIMEOUT_S="1.0",
        )
        self.add(
            "archiver",
            ["bus", "audit", "archive", "--db", self.db_url, "--key", str(self.path("audit-key.pem")),
             "--checkpoint-every", "500", "--registry", r, "--data-dir", str(self.tmp), *common],
        )  # fmt: skip
        for name in ("tax", "police"):
            agreement = w.agreement(name)
            self.add(
                "subscriber" if name == "tax" else "police",
                [*py, "tests.faults.subscriber_worker", b, r, w.consumer(name), self.tokens[name],
                 agreement.id, str(self.path(f"{name}-store.sqlite")), str(self.path(f"{name}.out"))],
                **self.login_env(w.consumer(name)),
            )  # fmt: skip
        self.add(
            "publisher",
            [*py, "tests.faults.publisher_worker", b, r, str(self.path("spool.sqlite")),
             str(self.path("civil.pem")), w.unique, str(w.subjects), str(w.versions),
             str(self.path("progress")), str(self.profile.pace_s)],
            **self.login_env(w.provider),
        )  # fmt: skip

    async def _register_world(self) -> None:
        w = self.workload
        topic = f"ingress.{w.provider}.person"
        # a fresh Kafka has no system topics (tansu made them on first use)
        await create_system_topics(self.settings)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.registry_url}/subjects/{topic}-value/versions",
                json={"schema": (REPO / "schemas" / "civil" / "person.avsc").read_text()},
                headers={"Authorization": f"Bearer {self.operator_token}"},
            )
            assert response.status_code == 200, response.text
        await ensure_service_key(self.settings, self.path("processor.pem"))
        key = Ed25519PrivateKey.generate()
        self.path("civil.pem").write_bytes(private_key_pem(key))
        public = key.public_key()
        await put_agency(
            self.settings,
            AgencyEntry(
                id=w.provider,
                name="Civil registry",
                public_keys={key_id_for(public): public_key_text(public)},
            ),
        )
        for name in ("tax", "health", "police"):
            self.tokens[name] = new_token()
            webhook = None
            if name == "health":
                webhook = WebhookEntry(url=f"http://127.0.0.1:{self.receiver_port}/hook", secret=self.secret)
            await put_agency(
                self.settings,
                AgencyEntry(
                    id=w.consumer(name),
                    name=f"{name} agency",
                    token_hashes=(hash_token(self.tokens[name]),),
                    webhook=webhook,
                ),
            )
        await create_topics(
            self.settings, [spec_for(topic), *(spec_for(a.delivery_topic) for a in w.agreements)]
        )
        producer = make_producer(self.settings)
        await producer.start()
        try:
            for agreement in w.agreements:
                await producer.send_and_wait(
                    SystemTopic.AGREEMENTS,
                    key=agreement.id.encode(),
                    value=agreement.model_dump_json().encode(),
                )
        finally:
            await producer.stop()
        for agency in (w.provider, *(w.consumer(name) for name in ("tax", "police"))):
            self.logins[agency] = await agency_login(self.settings, agency)
        if self.settings.authenticates:  # as `bus agreements apply` does: the grants follow the agreements
            await reconcile(self.settings)
        granted_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        health = w.agreement("health")
        for subject in w.consents():
            await record_consent(
                self.settings,
                ConsentRecord(
                    subject=subject,
                    consumer=health.consumer,
                    purpose=health.purpose,
                    status=ConsentStatus.GRANTED,
                    time=granted_at,
                ),
            )

    # -- the run ------------------------------------------------------------------------
    def run(self, log: Callable[[str], None] = print) -> Summary:
        self._define_processes_early()
        try:
            self._run(log)
            return self.judge()
        finally:
            for proc in reversed(list(self.procs.values())):
                proc.terminate()

    def _define_processes_early(self) -> None:
        self.procs.clear()
        self.add(
            "registry",
            ["bus", "registry", "serve", "--port", str(self.registry_port), "--bootstrap", self.bootstrap,
             "--profile", PROFILE],
            BUS_OPERATOR_TOKEN=self.operator_token,
        )  # fmt: skip

    def _run(self, log: Callable[[str], None]) -> None:
        self.procs["registry"].start()
        self.procs["registry"].wait_for(r"registry ready at")
        asyncio.run(self._register_world())
        self._define_processes()
        for name in ("receiver", "processor", "dispatcher", "archiver", "subscriber", "police"):
            self.procs[name].start()
        self.procs["receiver"].wait_for("receiver ready")
        self.procs["processor"].wait_for("processor ready")
        self.procs["publisher"].start()
        started = time.monotonic()
        faults = schedule(self.profile, random.Random(self.profile.seed), cluster=self.cluster is not None)
        log(f"fault schedule: {[(round(f.at_s, 1), f.action) for f in faults]}")
        for fault in faults:
            while time.monotonic() - started < fault.at_s:
                self._reap(log)
                time.sleep(0.05)
            self._inject(fault, log)
        self._wait_until_done(log)

    def _inject(self, fault: Fault, log: Callable[[str], None]) -> None:
        self._reap(log)  # a component that just exited on its own is restarted, then hit
        if fault.action.startswith("kill:"):
            name = fault.action.split(":", 1)[1]
            proc = self.procs[name]
            if proc.kill():
                self.kills[name] += 1
                self.faults_done += 1
                log(f"SIGKILL {name} (start {proc.starts})")
                proc.start()
            else:
                log(f"{name} was not running; no kill")
        elif fault.action.startswith("broker:"):
            self._broker_fault(fault.action.split(":", 1)[1], log)
            self.faults_done += 1
        elif fault.action == "registry":
            self.procs["registry"].kill()
            self.procs["registry"].start()
            self.procs["registry"].wait_for(r"registry ready at")
            self.faults_done += 1
            log("registry restarted")
        elif fault.action == "stall":
            self.path("stall").touch()
            self.faults_done += 1
            log("receiver stalled")
        elif fault.action == "unstall":
            self.path("stall").unlink(missing_ok=True)
            log("receiver answers again")

    def _broker_fault(self, kind: str, log: Callable[[str], None]) -> None:
        """One node down or stalled, then back; returns once every partition has all its replicas again."""
        cluster = self.cluster
        assert cluster is not None
        if kind in ("leader", "controller"):
            victim = asyncio.run(self._hot_leader()) if kind == "leader" else active_controller(cluster)
            cluster.kill(victim)
            self.kills[f"broker-{kind}"] += 1
            log(f"SIGKILL Kafka node {victim} ({kind})")
            time.sleep(BROKER_DOWN_S)
            asyncio.run(cluster.restart(victim))
        elif kind == "stop":
            victim = random.Random(self.faults_done).choice([n.node_id for n in cluster.nodes])
            cluster.kill(victim, signal.SIGSTOP)
            log(f"SIGSTOP Kafka node {victim} for {BROKER_STOP_S:.0f} s")
            time.sleep(BROKER_STOP_S)
            cluster.kill(victim, signal.SIGCONT)
        elif kind == "rolling":
            for node in cluster.nodes:
                log(f"rolling restart: Kafka node {node.node_id}")
                asyncio.run(cluster.restart(node.node_id))
                asyncio.run(self._fully_replicated(log))
        asyncio.run(self._fully_replicated(log))

    async def _hot_leader(self) -> int:
        """The node leading partition 0 of the workload's ingress topic (every partition takes traffic)."""
        admin = make_admin(self.settings)
        await admin.start()
        try:
            [described] = await admin.describe_topics([f"ingress.{self.workload.provider}.person"])
        finally:
            await admin.close()
        return int(next(p["leader"] for p in described["partitions"] if p["partition"] == 0))

    async def _fully_replicated(self, log: Callable[[str], None], timeout_s: float = 90.0) -> None:
        """Until every partition of the bus's topics has its whole replica set in sync again."""
        deadline = time.monotonic() + timeout_s
        lagging: list[str] = []
        while time.monotonic() < deadline:
            admin = make_admin(self.settings)
            try:
                await admin.start()
                names = [t for t in await admin.list_topics() if not t.startswith("__")]
                described = await admin.describe_topics(names)
            except Exception as exc:  # a node is still coming back
                lagging = [repr(exc)]
            else:
                lagging = [
                    f"{t['topic']}[{p['partition']}]"
                    for t in described
                    for p in t["partitions"]
                    if len(p["isr"]) < len(p["replicas"])
                ]
                if not lagging:
                    return
            finally:
                await admin.close()
            await asyncio.sleep(0.5)
        log(f"still under-replicated after {timeout_s:.0f} s: {lagging[:5]}")

    def _reap(self, log: Callable[[str], None]) -> None:
        """Restart a component that exited on its own (as ``bus up`` would); the publisher may finish."""
        for name, proc in self.procs.items():
            if proc.popen is None or proc.alive() or proc.finished_ok:
                continue
            if name == "publisher" and proc.popen.returncode == 0:
                proc.finished_ok = True
                continue
            self.unexpected_exits.append(f"{name} rc={proc.popen.returncode}")
            log(f"{name} exited with {proc.popen.returncode}; restarting")
            proc.start()

    def _wait_until_done(self, log: Callable[[str], None]) -> None:
        deadline = time.monotonic() + self.profile.drain_timeout_s
        w = self.workload
        expected_audit = len(w.plan) * 3
        while time.monotonic() < deadline:
            self._reap(log)
            if (
                self.procs["publisher"].finished_ok
                and w.entitled("tax") <= set(self.subscriber_lines("tax")[1])
                and w.entitled("health") <= set(self.receiver_accepted())
                and len(self.audit_pairs()) >= expected_audit
            ):
                time.sleep(3.0)  # let stragglers (repeats) arrive before judging
                return
            time.sleep(0.5)
        log("drain timed out")

    # -- evidence -----------------------------------------------------------------------
    def subscriber_lines(self, name: str) -> tuple[list[list[str]], list[str]]:
        """(every line split, the ce_ids of the updates in hand-over order)."""
        out = self.path(f"{name}.out")
        lines = [line.split(" ") for line in out.read_text().splitlines()] if out.exists() else []
        return lines, [parts[1] for parts in lines if parts[0] == "U"]

    def receiver_lines(self) -> list[list[str]]:
        out = self.path("receiver.out")
        return [line.split(" ") for line in out.read_text().splitlines()] if out.exists() else []

    def receiver_accepted(self) -> list[str]:
        return [parts[1] for parts in self.receiver_lines() if parts[0] == "A"]

    def audit_rows(self) -> list[tuple[str, str | None, str, str | None, str | None, str]]:
        path = self.path("audit.sqlite")
        if not path.exists():
            return []
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                return list(
                    db.execute(
                        "SELECT event_id, agreement_id, decision, reason, consumer, fields "
                        "FROM audit_entries WHERE provider = ?",
                        (self.workload.provider,),
                    )
                )
        except sqlite3.OperationalError:  # not created yet
            return []

    def audit_pairs(self) -> set[tuple[str, str | None]]:
        return {(row[0], row[1]) for row in self.audit_rows()}

    # -- the verdict --------------------------------------------------------------------
    def judge(self) -> Summary:
        w = self.workload
        problems: list[str] = []
        # the components are stopped gracefully first: the archiver publishes its final checkpoints
        for name in ("publisher", "subscriber", "police", "dispatcher", "processor", "archiver"):
            self.procs[name].terminate()
        lost = dup = order = unauthorised = 0
        delivered = 0
        # tax, through the subscriber SDK: the handler's view
        tax_lines, tax_ids = self.subscriber_lines("tax")
        lost += len(w.entitled("tax") - set(tax_ids))
        dup += len(tax_ids) - len(set(tax_ids))
        unauthorised += sum(1 for i in tax_ids if i not in w.entitled("tax"))
        unauthorised += sum(
            1 for parts in tax_lines if parts[0] == "U" and not set(parts[4].split(",")) <= w.granted("tax")
        )
        problems += [f"tax delivery error: {' '.join(parts[1:])}" for parts in tax_lines if parts[0] == "E"]
        order += _order_violations(w, tax_ids)
        delivered += len(set(tax_ids))
        # police: expired, must receive nothing; where the broker authorises, it may not even read
        police_lines, police_ids = self.subscriber_lines("police")
        unauthorised += len(police_ids)
        if self.settings.authenticates and "refused:" not in self.procs["police"].output():
            problems.append("the broker did not refuse police's expired agreement")
        problems += [f"police delivery error: {' '.join(p[1:])}" for p in police_lines if p[0] == "E"]
        # health, through signed webhooks: what the receiver handled (it dedups on webhook-id)
        lines = self.receiver_lines()
        accepted = [parts for parts in lines if parts[0] == "A"]
        health_ids = [parts[1] for parts in accepted]
        lost += len(w.entitled("health") - set(health_ids))
        dup += len(health_ids) - len(set(health_ids))
        unauthorised += sum(1 for i in health_ids if i not in w.entitled("health"))
        unauthorised += sum(1 for parts in accepted if not set(parts[5].split(",")) <= w.granted("health"))
        unauthorised += sum(1 for parts in lines if parts[0] == "X")  # a request not signed by the bus
        order += _order_violations(w, health_ids)
        delivered += len(set(health_ids))
        redelivered = sum(1 for parts in lines if parts[0] == "R")
        # the delivery topics themselves, before anyone deduplicates (read committed on Kafka)
        dup_before_dedup = 0
        for name in ("tax", "health"):
            records = asyncio.run(_records(self.settings, w.agreement(name).delivery_topic))
            ids = [Envelope.from_headers(r.headers).id for r in records]
            dup_before_dedup += len(ids) - len(set(ids))
        # the topics: nothing on police's, nothing dead-lettered, no parked webhook
        for topic in (
            w.agreement("police").delivery_topic,
            dlq(w.provider),
            f"dlq.webhook.{w.consumer('health')}",
        ):
            count = len(asyncio.run(_records(self.settings, topic)))
            if count:
                problems.append(f"{count} records on {topic}")
                if topic.startswith("deliver."):
                    unauthorised += count
        # the audit archive: every (event, agreement) decided, and decided as the oracle says
        rows = self.audit_rows()
        decided: dict[tuple[str, str | None], set[str]] = defaultdict(set)
        for event_id, agreement_id, decision, _reason, _consumer, _fields in rows:
            decided[(event_id, agreement_id)].add(decision)
        audit_missing = 0
        for agreement in w.agreements:
            entitled = w.entitled(agreement.id.split("-")[0])
            for planned in w.plan:
                decisions = decided.get((planned.event_id, agreement.id))
                if not decisions:
                    audit_missing += 1
                    continue
                expected = "delivered" if planned.event_id in entitled else "denied"
                if decisions != {expected}:
                    problems.append(
                        f"{planned.event_id} {agreement.id}: audited {decisions}, expected {expected}"
                    )
                    if "delivered" in decisions and expected == "denied":
                        unauthorised += 1
        verify = subprocess.run(
            ["bus", "audit", "verify", "--db", self.db_url, "--trusted-key",
             str(public_key_path(self.path("audit-key.pem"))), "--bootstrap", self.bootstrap,
             "--profile", PROFILE],
            capture_output=True, text=True, env=self.env(), timeout=120, check=False,
        )  # fmt: skip
        if verify.returncode != 0:
            problems.append(f"bus audit verify failed:\n{verify.stdout[-2000:]}{verify.stderr[-2000:]}")
        return Summary(
            faults=self.faults_done,
            kills=dict(self.kills),
            delivered=delivered,
            lost=lost,
            dup_before_dedup=dup_before_dedup,
            dup_after_dedup=dup,
            order_violations=order,
            unauthorised=unauthorised,
            redelivered=redelivered,
            unexpected_exits=len(self.unexpected_exits),
            audit_missing=audit_missing,
            audit_verified=verify.returncode == 0,
            problems=problems,
            exits=list(self.unexpected_exits),
        )


def active_controller(cluster: KafkaCluster) -> int:
    """The KRaft quorum's leader, from the newest epoch in the nodes' ``quorum-state`` files (Kafka's
    metadata response names a random broker as controller under KRaft, not the active one)."""
    epoch, leader = -1, -1
    for node in cluster.nodes:
        path = node.home / "data" / "__cluster_metadata-0" / "quorum-state"
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if int(state.get("leaderEpoch", -1)) > epoch and int(state.get("leaderId", -1)) > 0:
            epoch, leader = int(state["leaderEpoch"]), int(state["leaderId"])
    assert leader > 0, "no node's quorum-state names a leader"
    return leader


def _order_violations(workload: Workload, handed: list[str]) -> int:
    """Per subject, the versions handed over (first occurrence of each id) must increase."""
    last: dict[str, int] = {}
    seen: set[str] = set()
    violations = 0
    for event_id in handed:
        if event_id in seen:
            continue
        seen.add(event_id)
        planned = workload.by_id.get(event_id)
        if planned is None:
            continue
        if planned.version <= last.get(planned.subject, 0):
            violations += 1
        last[planned.subject] = planned.version
    return violations


async def _records(settings: KafkaSettings, topic: str) -> list[Any]:
    try:
        return await read_to_end(settings, topic)
    except Exception:  # the topic was never created: nothing on it
        return []
