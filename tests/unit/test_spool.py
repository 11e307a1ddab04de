"""The publisher's store-and-forward spool on real SQLite files (DESIGN §8)."""

from __future__ import annotations

import asyncio
import itertools
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bus.errors import BusError
from connectors.sdk._spool import NewEvent, Spool, SpooledEvent, SpoolError, SpoolFullError, SpoolTransaction
from tests.conftest import REPO

TOPIC = "ingress.civil-registry.person"
ALL = 1_000_000

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


@pytest.fixture
def spool_path(tmp_path: Path) -> Path:
    return tmp_path / "spool" / "publisher.spool.sqlite"


@pytest.fixture
def spool(spool_path: Path) -> Iterator[Spool]:
    with Spool(spool_path) as opened:
        yield opened


def add(
    tx: SpoolTransaction,
    key: str,
    value: bytes | None = b"v",
    headers: list[tuple[str, bytes]] | None = None,
    topic: str = TOPIC,
) -> int:
    return tx.append(NewEvent(topic, key, value, headers or [], tx.next_sequence(key)))


def spool_one(spool: Spool, key: str, value: bytes | None = b"v") -> int:
    with spool.transaction() as tx:
        return add(tx, key, value)


def spool_batch(spool: Spool, *items: tuple[str, bytes | None], then_raise: bool = False) -> list[int]:
    with spool.transaction() as tx:
        positions = [add(tx, key, value) for key, value in items]
        if then_raise:
            raise Boom
    return positions


def sequences(events: list[SpooledEvent], key: str) -> list[int]:
    return [e.sequence for e in events if e.key == key]


class Boom(Exception):
    pass


# -- order and content --------------------------------------------------------------------------


def test_peek_returns_appended_events_in_order_with_all_fields(spool: Spool) -> None:
    # given events with binary headers, a tombstone and an empty value
    headers = [("ce_id", b"\x00\xff\x00"), ("bus_changed", b""), ("ключ", bytes(range(256))), ("ce_id", b"2")]
    with spool.transaction() as tx:
        first = add(tx, "900514301239", b"\x00\x00\x00\x00\x07avro", headers)
        second = add(tx, "900514301239", None, [("ce_type", b"gov.civil.Person.deleted")], topic="t.other")
        third = add(tx, "\u0430\x00b", b"")
    # when we peek
    events = spool.peek(10)
    # then every field comes back as appended, oldest first
    assert [e.position for e in events] == [first, second, third]
    assert first < second < third
    assert events[0].topic == TOPIC
    assert events[0].key == "900514301239"
    assert events[0].value == b"\x00\x00\x00\x00\x07avro"
    assert events[0].headers == headers
    assert events[0].sequence == 1
    assert (events[1].topic, events[1].value, events[1].sequence) == ("t.other", None, 2)
    assert events[1].headers == [("ce_type", b"gov.civil.Person.deleted")]
    assert (events[2].key, events[2].value, events[2].headers) == ("\u0430\x00b", b"", [])
    assert all(isinstance(e.enqueued_at, float) and e.enqueued_at > 0 for e in events)


def test_peek_honours_limit_and_after(spool: Spool) -> None:
    # given five events
    positions = [spool_one(spool, f"k{i}") for i in range(5)]
    # when we page through them two at a time
    first = spool.peek(2)
    second = spool.peek(2, after=first[-1].position)
    # then the pages follow each other in position order
    assert [e.position for e in first + second] == positions[:4]
    assert spool.peek(0) == []


# -- sequences ----------------------------------------------------------------------------------


def test_sequences_count_from_one_per_key_and_keys_are_independent(spool: Spool) -> None:
    # given appends interleaving two keys across transactions
    for key in ["a", "b", "a", "a", "b"]:
        spool_one(spool, key)
    # when we read them back
    events = spool.peek(ALL)
    # then each key counts 1..n on its own
    assert sequences(events, "a") == [1, 2, 3]
    assert sequences(events, "b") == [1, 2]


def test_next_sequence_twice_in_one_transaction_gives_consecutive_numbers(spool: Spool) -> None:
    # given an open transaction
    with spool.transaction() as tx:
        # when the same key asks twice
        allocated = [tx.next_sequence("k"), tx.next_sequence("k")]
    # then the numbers are consecutive
    assert allocated == [1, 2]


def test_sequence_continues_after_the_keys_events_were_removed(spool: Spool) -> None:
    # given a key whose events were all sent and removed
    spool.remove([spool_one(spool, "k"), spool_one(spool, "k")])
    assert spool.depth() == 0
    # when the key is published again
    spool_one(spool, "k")
    # then its sequence does not go back
    assert spool.peek(1)[0].sequence == 3


def test_sequence_continues_after_reopening_the_file(spool_path: Path) -> None:
    # given a key published twice and the spool closed
    with Spool(spool_path) as spool:
        spool_one(spool, "k")
        spool_one(spool, "k")
    # when the file is reopened and the key published again
    with Spool(spool_path) as spool, spool.transaction() as tx:
        sequence = tx.next_sequence("k")
    # then the sequence carries on
    assert sequence == 3


# -- atomicity ----------------------------------------------------------------------------------


def test_transaction_that_raises_leaves_no_events_and_no_spent_sequence(spool: Spool) -> None:
    # given a transaction that appends and then fails
    with pytest.raises(Boom):
        spool_batch(spool, ("k", b"1"), ("k", b"2"), then_raise=True)
    # when the key is published again
    spool_one(spool, "k")
    # then the failed transaction left nothing behind
    assert [(e.key, e.sequence) for e in spool.peek(ALL)] == [("k", 1)]
    assert spool.depth() == 1


def test_append_past_quota_raises_spool_full_naming_path_and_quota(spool_path: Path) -> None:
    # given a spool with a tiny quota
    with Spool(spool_path, quota_bytes=100) as spool, pytest.raises(SpoolFullError) as caught:
        # when one change needs more than that
        spool_one(spool, "k", b"x" * 200)
    # then the error is a retriable BusError that names the file and the quota and says what to do
    error = caught.value
    assert isinstance(error, BusError)
    assert error.code == "spool_full"
    assert error.retriable
    assert str(spool_path) in str(error)
    assert "100" in str(error)
    assert "--spool-quota" in error.hint


def test_append_past_quota_stores_nothing_of_that_transaction(spool_path: Path) -> None:
    # given a spool with room for a few small changes
    with Spool(spool_path, quota_bytes=200) as spool:
        spool_one(spool, "a")
        # when a transaction appends one that fits and then one that does not
        with pytest.raises(SpoolFullError):
            spool_batch(spool, ("b", b"v"), ("a", b"x" * 500))
        # then only what was committed before remains, and no sequence was spent
        assert [(e.key, e.sequence) for e in spool.peek(ALL)] == [("a", 1)]
        spool_one(spool, "b")
        assert spool.peek(ALL)[-1].sequence == 1


def test_caught_spool_full_error_still_rolls_back_and_is_raised_again(spool_path: Path) -> None:
    # given a transaction whose caller swallows the quota error and carries on
    swallowed: list[SpoolFullError] = []

    def publish_swallowing(spool: Spool) -> None:
        with spool.transaction() as tx:
            add(tx, "b")
            try:
                add(tx, "a", b"x" * 500)
            except SpoolFullError as exc:
                swallowed.append(exc)

    with Spool(spool_path, quota_bytes=200) as spool:
        # when the block ends
        with pytest.raises(SpoolFullError) as caught:
            publish_swallowing(spool)
        assert caught.value is swallowed[0]
        # then the block still fails and nothing of it was stored
        assert spool.depth() == 0
        assert spool.size_bytes() == 0


def test_full_spool_accepts_changes_again_once_drained(spool_path: Path) -> None:
    # given a spool filled to its quota
    with Spool(spool_path, quota_bytes=200) as spool:
        positions = [spool_one(spool, "k", b"x" * 60) for _ in range(2)]
        with pytest.raises(SpoolFullError):
            spool_one(spool, "k", b"x" * 60)
        # when the sender removes what the broker acknowledged
        spool.remove(positions)
        # then publishing works again
        spool_one(spool, "k", b"x" * 60)
        assert spool.depth() == 1


def test_disk_filling_up_before_the_quota_is_a_spool_full_error(spool: Spool) -> None:
    # given a spool whose disk runs out first (simulated by capping the file at a few pages)
    assert spool._conn is not None
    spool._conn.execute("PRAGMA max_page_count = 8")
    # when a transaction outgrows it, then it is refused as full and stores nothing
    with pytest.raises(SpoolFullError, match="disk"):
        spool_batch(spool, *[("k", b"x" * 3000) for _ in range(20)])
    assert (spool.depth(), spool.size_bytes(), spool.peek(ALL)) == (0, 0, [])


# -- quota accounting, remove, depth, age -------------------------------------------------------


def test_size_bytes_counts_topic_key_value_and_header_bytes(spool: Spool) -> None:
    # given one event with a known number of bytes
    with spool.transaction() as tx:
        tx.append(NewEvent("tt", "ключ", b"12345", [("h1", b"abc"), ("h2", b"")], tx.next_sequence("ключ")))
    # when we ask for the size
    size = spool.size_bytes()
    # then it is topic + key (UTF-8) + value + header names and values
    assert size == 2 + len("ключ".encode()) + 5 + (2 + 3) + (2 + 0)


def test_remove_frees_quota(spool: Spool) -> None:
    # given two events
    first = spool_one(spool, "a", b"x" * 100)
    spool_one(spool, "b", b"y" * 10)
    before = spool.size_bytes()
    # when the first is removed
    spool.remove([first])
    # then its bytes no longer count
    assert spool.size_bytes() == before - (len(TOPIC) + 1 + 100)


def test_remove_is_idempotent(spool: Spool) -> None:
    # given an event removed once
    kept = spool_one(spool, "a")
    gone = spool_one(spool, "b")
    spool.remove([gone])
    size, depth = spool.size_bytes(), spool.depth()
    # when it is removed again, together with positions that never existed
    spool.remove([gone, gone, 999_999, 0])
    spool.remove([])
    # then nothing else changes
    assert [e.position for e in spool.peek(ALL)] == [kept]
    assert (spool.size_bytes(), spool.depth()) == (size, depth)


def test_remove_handles_more_positions_than_one_sql_statement_takes(spool: Spool) -> None:
    # given 1,200 events
    with spool.transaction() as tx:
        positions = [add(tx, f"k{i % 7}") for i in range(1200)]
    # when all but the last are removed in one call
    spool.remove(positions[:-1])
    # then one event remains
    assert [e.position for e in spool.peek(ALL)] == positions[-1:]
    assert spool.depth() == 1


def test_positions_are_never_reused_after_the_spool_drained(spool_path: Path) -> None:
    # given a spool that drained completely and was reopened
    with Spool(spool_path) as spool:
        last = spool_one(spool, "k")
        spool.remove([last])
    with Spool(spool_path) as spool:
        # when a new event is appended
        position = spool_one(spool, "k")
    # then it gets a position after every earlier one
    assert position > last


def test_depth_counts_waiting_events(spool: Spool) -> None:
    # given three appended events, one of them removed
    positions = [spool_one(spool, "k") for _ in range(3)]
    spool.remove(positions[1:2])
    # when we ask for the depth
    depth = spool.depth()
    # then it counts the two still waiting
    assert depth == 2


def test_oldest_age_is_none_when_empty(spool: Spool) -> None:
    assert spool.oldest_age_s() is None


def test_oldest_age_is_measured_from_the_oldest_waiting_event(spool: Spool) -> None:
    # given two events
    spool_one(spool, "a")
    spool_one(spool, "b")
    oldest = spool.peek(1)[0]
    # when we ask for the age at a given time
    age = spool.oldest_age_s(now=oldest.enqueued_at + 5.0)
    # then it is measured from the first one
    assert age == pytest.approx(5.0)
    assert 0.0 <= (spool.oldest_age_s() or 0.0) < 60.0


# -- files and restarts -------------------------------------------------------------------------


def test_new_spool_creates_its_directory_in_wal_mode(spool_path: Path) -> None:
    # given a path whose directory does not exist
    assert not spool_path.parent.exists()
    # when a spool is opened there
    Spool(spool_path).close()
    # then the file exists and uses write-ahead logging
    with sqlite3.connect(spool_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_reopening_after_close_keeps_the_backlog(spool_path: Path) -> None:
    # given a spool with a backlog, closed
    with Spool(spool_path) as spool:
        spool_one(spool, "a", b"1")
        spool_one(spool, "b", None)
        before = spool.peek(ALL)
    # when it is reopened
    with Spool(spool_path) as spool:
        # then the backlog and its accounting are all there
        assert spool.peek(ALL) == before
        assert spool.depth() == 2
        assert spool.size_bytes() == 2 * len(TOPIC) + 2 + 1


def test_closed_spool_refuses_use(spool_path: Path) -> None:
    # given a closed spool
    spool = Spool(spool_path)
    spool.close()
    spool.close()
    # when it is used, then it says so
    with pytest.raises(SpoolError, match="closed"):
        spool.depth()


def test_spool_written_by_a_newer_version_is_refused(spool_path: Path) -> None:
    # given a spool file with a schema version this code does not know
    Spool(spool_path).close()
    with sqlite3.connect(spool_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    # when it is opened, then the error names the version
    with pytest.raises(SpoolError, match="schema version 99"):
        Spool(spool_path)


def test_file_that_is_not_a_spool_is_refused(tmp_path: Path) -> None:
    # given a file that is not a database
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not sqlite" * 100)
    # when it is opened as a spool, then a spool error names it
    with pytest.raises(SpoolError, match=r"notes\.txt"):
        Spool(path)


CHILD = """
import os, signal, sys
from pathlib import Path
from connectors.sdk._spool import NewEvent, Spool

path, batches = Path(sys.argv[1]), int(sys.argv[2])
spool = Spool(path)
n = 0
while batches == 0 or n < batches * 10:
    with spool.transaction() as tx:
        for _ in range(10):
            key = f"k{n % 3}"
            tx.append(NewEvent("t", key, str(n).encode(), [("n", str(n).encode())], tx.next_sequence(key)))
            n += 1
    print(n, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def run_child(path: Path, batches: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(batches)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )


def assert_backlog_is_whole(path: Path, at_least: int) -> int:
    with Spool(path) as spool:
        events = spool.peek(ALL)
        assert len(events) >= at_least
        assert len(events) % 10 == 0  # whole transactions only
        assert [e.value for e in events] == [str(i).encode() for i in range(len(events))]
        for key in ("k0", "k1", "k2"):
            expected = list(range(1, len(sequences(events, key)) + 1))
            assert sequences(events, key) == expected
            with spool.transaction() as tx:
                assert tx.next_sequence(key) == len(expected) + 1
        assert spool.depth() == len(events)
        return len(events)


@posix_only
def test_child_killed_right_after_commit_loses_nothing(spool_path: Path) -> None:
    # given a child process that commits 30 batches and SIGKILLs itself right after the last commit
    child = run_child(spool_path, batches=30)
    child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL
    # when the spool is reopened
    # then every committed event is there, and sequences carry on
    assert assert_backlog_is_whole(spool_path, at_least=300) == 300


@posix_only
def test_child_killed_mid_stream_keeps_every_acknowledged_batch(spool_path: Path) -> None:
    # given a child appending batches without end
    child = run_child(spool_path, batches=0)
    try:
        assert child.stdout is not None
        acknowledged = 0
        while acknowledged < 200:
            acknowledged = int(child.stdout.readline())
        # when it is killed at an arbitrary moment
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # then everything acknowledged is there, in whole batches, in order
    assert_backlog_is_whole(spool_path, at_least=acknowledged)


# -- volume and threads -------------------------------------------------------------------------


def test_ten_thousand_appends_in_batches_of_a_hundred(spool: Spool) -> None:
    # given 100 transactions of 100 appends over 50 keys
    for batch in range(100):
        with spool.transaction() as tx:
            for i in range(100):
                add(tx, f"k{(batch * 100 + i) % 50}", b"x" * 100, [("ce_id", b"0123456789abcdef")])
    # when we read the backlog
    events = spool.peek(ALL)
    # then all of it is there, in order, with every key at sequence 200
    assert spool.depth() == len(events) == 10_000
    assert all(a.position < b.position for a, b in itertools.pairwise(events))
    assert sequences(events, "k7")[-1] == 200


def test_transactions_from_several_threads_are_serialised(spool: Spool) -> None:
    # given four threads publishing the same key through one spool
    def publish() -> None:
        for _ in range(25):
            spool_one(spool, "shared")

    # when they run at once
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(publish) for _ in range(4)]:
            future.result()
    # then every publish got its own sequence, in position order
    assert sequences(spool.peek(ALL), "shared") == list(range(1, 101))


async def test_spool_is_usable_through_to_thread(spool: Spool) -> None:
    # given a spool used from worker threads, as the sender does
    await asyncio.gather(*(asyncio.to_thread(spool_one, spool, f"k{i}") for i in range(4)))
    # when the sender peeks and removes from another thread
    batch = await asyncio.to_thread(spool.peek, 10)
    await asyncio.to_thread(spool.remove, [e.position for e in batch])
    # then the spool is empty
    assert await asyncio.to_thread(spool.depth) == 0


# -- model-based --------------------------------------------------------------------------------

MODEL_QUOTA = 600
keys = st.sampled_from(["a", "b", "c"]) | st.text(min_size=1, max_size=6)
values = st.none() | st.binary(max_size=64)
batches = st.lists(st.tuples(keys, values), min_size=1, max_size=5)


def model_size(key: str, value: bytes | None) -> int:
    return len(TOPIC) + 2 * len(key.encode()) + len(value or b"") + len("h")


class SpoolAgainstModel(RuleBasedStateMachine):
    """Random appends, failed transactions, removals and reopens keep the spool equal to a list."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        self.path = Path(self.directory.name) / "spool.sqlite"
        self.spool = Spool(self.path, quota_bytes=MODEL_QUOTA)
        self.waiting: list[tuple[int, str, bytes | None, int]] = []
        self.last_sequence: dict[str, int] = {}
        self.last_position = 0

    def size(self) -> int:
        return sum(model_size(key, value) for _, key, value, _ in self.waiting)

    @rule(batch=batches)
    def append(self, batch: list[tuple[str, bytes | None]]) -> None:
        fits = self.size() + sum(model_size(k, v) for k, v in batch) <= MODEL_QUOTA
        staged: list[tuple[int, str, bytes | None, int]] = []
        try:
            with self.spool.transaction() as tx:
                for key, value in batch:
                    sequence = tx.next_sequence(key)
                    position = tx.append(NewEvent(TOPIC, key, value, [("h", key.encode())], sequence))
                    staged.append((position, key, value, sequence))
        except SpoolFullError:
            assert not fits
            return
        assert fits
        for position, key, _, sequence in staged:
            assert sequence == self.last_sequence.get(key, 0) + 1
            assert position > self.last_position
            self.last_sequence[key], self.last_position = sequence, position
        self.waiting += staged

    @rule(batch=batches)
    def append_then_fail(self, batch: list[tuple[str, bytes | None]]) -> None:
        try:
            with self.spool.transaction() as tx:
                for key, value in batch:
                    tx.append(NewEvent(TOPIC, key, value, [("h", key.encode())], tx.next_sequence(key)))
                raise Boom
        except (Boom, SpoolFullError):
            pass

    @precondition(lambda self: bool(self.waiting))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        positions = [p for p, _, _, _ in self.waiting]
        chosen = data.draw(st.lists(st.sampled_from(positions), max_size=len(positions)))
        stray = data.draw(st.lists(st.integers(min_value=0, max_value=self.last_position + 5), max_size=2))
        self.spool.remove(chosen + stray)
        gone = set(chosen + stray)
        self.waiting = [entry for entry in self.waiting if entry[0] not in gone]

    @rule()
    def reopen(self) -> None:
        self.spool.close()
        self.spool = Spool(self.path, quota_bytes=MODEL_QUOTA)

    @invariant()
    def peek_equals_model(self) -> None:
        events = self.spool.peek(ALL)
        assert [(e.position, e.key, e.value, e.sequence) for e in events] == self.waiting
        assert self.spool.depth() == len(self.waiting)
        assert self.spool.size_bytes() == self.size()

    def teardown(self) -> None:
        self.spool.close()
        self.directory.cleanup()


TestSpoolAgainstModel = SpoolAgainstModel.TestCase
TestSpoolAgainstModel.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
