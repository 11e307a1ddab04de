"""Nothing lost, nothing let in: the whole path under SIGKILLs, a stalled receiver and a registry restart,
and on Kafka a 3-node cluster losing nodes under it.

The CI profile (4,000 changes over 200 subjects, 11 component kills; on Kafka also the SIGKILL of a hot
partition's leader and of the active controller, a node SIGSTOPped past its session, and a rolling
restart) runs in the default test run; the long profile (20,000 changes over 500 subjects, 22
component kills and 6 broker faults) runs with ``pytest -m slow tests/faults``. Both print the
one-line summary the issue asks for.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bus.broker.engine import LocalBroker
from bus.broker.kafka.cluster import KafkaCluster
from bus.broker.ports import free_port
from tests.engine import AUTHENTICATES
from tests.faults.conftest import SUMMARY_LINES
from tests.faults.harness import CI, LONG, FaultRun, Profile, Summary


def _run(broker: LocalBroker, tmp_path: Path, profile: Profile) -> Summary:
    cluster = broker if isinstance(broker, KafkaCluster) else None
    ports = (free_port(), free_port())
    run = FaultRun(broker.settings(), tmp_path, profile, uuid.uuid4().hex[:8], ports, cluster)
    summary = run.run()
    SUMMARY_LINES.append(summary.line())
    print(summary.line())
    for problem in summary.problems[:20]:
        print("problem:", problem)
    for exit_ in summary.exits:
        print("exited on its own and restarted:", exit_)
    return summary


def _assert_nothing_lost_nothing_let_in(summary: Summary, kills: int, faults: int) -> None:
    assert sum(summary.kills.values()) >= kills, summary.line()
    assert summary.faults >= faults, summary.line()
    if AUTHENTICATES:  # the 3-node cluster: at least two of the kills were Kafka nodes
        assert summary.kills["broker-leader"] + summary.kills["broker-controller"] >= 2, summary.line()
    assert (summary.lost, summary.dup_after_dedup, summary.order_violations, summary.unauthorised) == (
        0,
        0,
        0,
        0,
    ), summary.line()
    if AUTHENTICATES:  # Kafka: one transaction per batch, so nothing repeats even before dedup
        assert summary.dup_before_dedup == 0, summary.line()
    assert summary.audit_missing == 0, summary.line()
    assert summary.audit_verified, summary.problems
    assert summary.problems == [], summary.problems


@pytest.mark.timeout(720)
def test_ci_profile_loses_nothing_duplicates_nothing_and_lets_nothing_in(
    own_broker: LocalBroker, tmp_path: Path
) -> None:
    # given 4,000 changes over 200 subjects, three agreements (SDK, webhook with consent, expired)
    # when the processor, publisher, subscriber, dispatcher and archiver are SIGKILLed 11 times at
    # seeded moments, the receiver stalls for 6 s, the registry restarts and (Kafka) nodes die
    summary = _run(own_broker, tmp_path, CI)
    # then every entitled change arrived once, in per-subject order, nothing else arrived,
    # every decision is in the archive and the archive's chain verifies
    _assert_nothing_lost_nothing_let_in(summary, kills=10, faults=14 if AUTHENTICATES else 11)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_long_profile_loses_nothing_duplicates_nothing_and_lets_nothing_in(
    own_broker: LocalBroker, tmp_path: Path
) -> None:
    # given 20,000 changes over 500 subjects; when 22 kills and the other faults hit the path
    summary = _run(own_broker, tmp_path, LONG)
    # then the same verdict holds
    _assert_nothing_lost_nothing_let_in(summary, kills=20, faults=30 if AUTHENTICATES else 24)
