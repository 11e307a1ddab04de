"""``bus processor run`` in its own process, stopped at a chosen step of its Nth transaction.

``python -m tests.processor.transaction_worker STEP[:N] FENCING bus-args...`` (N: 1 if not given) where
STEP is

* ``offsets``: the batch's outputs are on the broker (flushed), its offsets not yet sent: exit 9;
* ``commit``: outputs and offsets sent, the commit not: exit 9;
* ``pause``: outputs flushed, then it prints ``transaction open`` and waits 3 s before sending the
  offsets, so a test can SIGSTOP it there with the transaction open;
* ``none``: no interference.

FENCING ``off`` sends the offsets with a group metadata that names the group only (generation -1,
no member id), as aiokafka 0.14 does, so the coordinator cannot tell a stale worker: the zombie
spec uses it to show that it fails without KIP-447 fencing. Exit 9 stands for SIGKILL at that
step: nothing is closed, flushed or aborted on the way out.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import confluent_kafka

import bus.processor.exactly_once as exactly_once
from bus.cli.app import main

STEP, _, NTH = sys.argv[1].partition(":")
FENCING = sys.argv[2]
_calls: dict[str, int] = {}


def _at_the_nth() -> bool:
    """True at the Nth transaction's step (each step is called once per transaction with offsets)."""
    _calls[STEP] = _calls.get(STEP, 0) + 1
    return _calls[STEP] == int(NTH or 1)


class SteppedProducer(confluent_kafka.Producer):
    def send_offsets_to_transaction(self, *args: Any) -> None:
        if STEP in ("offsets", "pause") and _at_the_nth():
            self.flush()
            print("transaction open", flush=True)
            if STEP == "offsets":
                os._exit(9)
            time.sleep(3.0)
        super().send_offsets_to_transaction(*args)

    def commit_transaction(self, *args: Any) -> None:
        if STEP == "commit" and _at_the_nth():
            self.flush()
            print("transaction open", flush=True)
            os._exit(9)
        super().commit_transaction(*args)


def _group_only(_ingress: exactly_once.ExactlyOnceIngress) -> object:
    """The metadata of a consumer that never joined: the group id, generation -1, no member id."""
    return _NEVER_JOINED.consumer_group_metadata()


GROUP = sys.argv[sys.argv.index("--group") + 1]
_NEVER_JOINED = confluent_kafka.Consumer(
    {"group.id": GROUP, "bootstrap.servers": "127.0.0.1:9", "log_level": 0}
)
exactly_once.Producer = SteppedProducer  # type: ignore[attr-defined]
if FENCING == "off":
    exactly_once.ExactlyOnceIngress.group_metadata = _group_only  # type: ignore[method-assign,assignment]
sys.argv = ["bus", *sys.argv[3:]]
main()
