"""The pgoutput decoder on bytes PostgreSQL 15 sent, and on hand-built messages of each kind (no sockets)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from connectors.postgres.pgoutput import (
    UNCHANGED_TOAST,
    Begin,
    Commit,
    Delete,
    Insert,
    PgOutputError,
    Relation,
    Truncate,
    Update,
    decode,
    lsn_text,
    parse_lsn,
)

# captured from PostgreSQL 15: CREATE TABLE t (id int PRIMARY KEY, name text, born date, n numeric,
# ts timestamptz); INSERT INTO t VALUES (2, 'b', '2001-01-02', 2.5, now())
CAPTURED_BEGIN = bytes.fromhex("420000000001924ec8000303f1bc791ffc000002d8")
CAPTURED_RELATION = (
    b"R\x00\x00@\x01public\x00t\x00d\x00\x05\x01id\x00\x00\x00\x00\x17\xff\xff\xff\xff\x00name\x00"
    b"\x00\x00\x00\x19\xff\xff\xff\xff\x00born\x00\x00\x00\x04:\xff\xff\xff\xff\x00n\x00\x00\x00\x06"
    b"\xa4\xff\xff\xff\xff\x00ts\x00\x00\x00\x04\xa0\xff\xff\xff\xff"
)
CAPTURED_INSERT = (
    b"I\x00\x00@\x01N\x00\x05t\x00\x00\x00\x012t\x00\x00\x00\x01bt\x00\x00\x00\n2001-01-02t\x00\x00\x00"
    b"\x032.5t\x00\x00\x00\x1d2026-11-23 15:08:34.188037+00"
)
CAPTURED_COMMIT = bytes.fromhex("43000000000001924ec80000000001924ef8000303f1bc791ffc")


def text(value: str) -> bytes:
    raw = value.encode()
    return b"t" + struct.pack(">i", len(raw)) + raw


def tuple_data(*cells: bytes) -> bytes:
    return struct.pack(">h", len(cells)) + b"".join(cells)


def test_a_captured_transaction_decodes_to_begin_relation_insert_commit() -> None:
    begin = decode(CAPTURED_BEGIN)
    relation = decode(CAPTURED_RELATION)
    insert = decode(CAPTURED_INSERT)
    commit = decode(CAPTURED_COMMIT)
    assert isinstance(begin, Begin)
    assert begin.final_lsn == parse_lsn("0/1924EC8")
    assert begin.xid == 728
    assert isinstance(relation, Relation)
    assert (relation.qualified_name, relation.replica_identity) == ("public.t", "d")
    assert [(c.name, c.type_oid, c.is_key) for c in relation.columns] == [
        ("id", 23, True),
        ("name", 25, False),
        ("born", 1082, False),
        ("n", 1700, False),
        ("ts", 1184, False),
    ]
    assert insert == Insert(relation.oid, ("2", "b", "2001-01-02", "2.5", "2026-11-23 15:08:34.188037+00"))
    assert isinstance(commit, Commit)
    assert (lsn_text(commit.commit_lsn), lsn_text(commit.end_lsn)) == ("0/1924EC8", "0/1924EF8")
    assert commit.commit_time == begin.commit_time
    assert datetime(2026, 1, 1, tzinfo=UTC) < commit.commit_time < datetime(2027, 1, 1, tzinfo=UTC)


def test_an_update_with_the_full_old_row_and_an_unchanged_toast_value() -> None:
    payload = b"U" + struct.pack(">I", 7) + b"O" + tuple_data(text("1"), text("old")) + b"N"
    payload += tuple_data(text("1"), b"u")
    assert decode(payload) == Update(7, ("1", "old"), False, ("1", UNCHANGED_TOAST))


def test_an_update_without_old_row_and_one_with_its_key_only() -> None:
    plain = b"U" + struct.pack(">I", 7) + b"N" + tuple_data(text("1"), b"n")
    keyed = (
        b"U" + struct.pack(">I", 7) + b"K" + tuple_data(text("0"), b"n") + b"N" + tuple_data(text("1"), b"n")
    )
    assert decode(plain) == Update(7, None, False, ("1", None))
    assert decode(keyed) == Update(7, ("0", None), True, ("1", None))


def test_deletes_and_truncates() -> None:
    assert decode(b"D" + struct.pack(">I", 9) + b"K" + tuple_data(text("5"))) == Delete(9, ("5",), True)
    truncate = b"T" + struct.pack(">ib", 2, 3) + struct.pack(">II", 9, 10)
    assert decode(truncate) == Truncate((9, 10), cascade=True, restart_identity=True)


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        (b"", "empty"),
        (b"S\x00\x00\x00\x01", "unexpected pgoutput message type 'S'"),
        (CAPTURED_INSERT[:-3], "truncated or malformed"),
        (CAPTURED_COMMIT + b"\x00", "trailing bytes"),
        (b"I" + struct.pack(">I", 1) + b"X", "truncated or malformed"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(payload: bytes, complaint: str) -> None:
    with pytest.raises(PgOutputError, match=complaint):
        decode(payload)


def test_lsn_text_round_trips() -> None:
    assert lsn_text(parse_lsn("16/B374D848")) == "16/B374D848"
