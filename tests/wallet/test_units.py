"""The wallet's pure parts and its table: tokens, JSON of Avro values, order and delete rules, migration."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bus.audit.db import ArchiveStore
from bus.wallet import token
from bus.wallet.store import WalletChange, apply_changes, forget, record_json, records_of

SECRET = b"s" * 32
NOW = dt.datetime(2026, 11, 5, 12, 0, tzinfo=dt.UTC)
A, B = "900514301239", "851203400123"


def test_a_token_opens_only_its_own_wallet_until_it_expires() -> None:
    issued, expires = token.issue(SECRET, A, NOW)
    assert expires == NOW + token.DEFAULT_TTL
    assert token.problem(SECRET, issued, A, NOW) is None
    assert token.problem(SECRET, issued, B, NOW) == "the wallet token belongs to another person"
    assert token.problem(SECRET, issued, A, expires) == "the wallet token has expired"
    assert token.problem(b"x" * 32, issued, A, NOW) == "the wallet token was not issued by this gateway"
    assert (
        token.problem(SECRET, issued.replace(A, B), B, NOW)
        == "the wallet token was not issued by this gateway"
    )
    assert token.problem(SECRET, None, A, NOW) is not None
    assert token.problem(SECRET, "wlt1.x", A, NOW) == "the wallet token is malformed"


def test_the_secret_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "wallet-secret"
    first = token.load_or_create_secret(path)
    assert len(first) == 32
    assert token.load_or_create_secret(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_avro_values_are_stored_as_json() -> None:
    record = {"d": dt.date(1990, 5, 14), "n": decimal.Decimal("1.50"), "b": b"\x00\x01", "s": "Абенов"}
    assert record_json(record) == '{"b": "AAE=", "d": "1990-05-14", "n": "1.50", "s": "Абенов"}'


def change(at_s: int, record: dict[str, str] | None, iin: str = A, purpose: str = "p") -> WalletChange:
    return WalletChange(
        iin=iin,
        record_type="person",
        provider="civil-registry",
        agreement_id="civil-to-wallet-person",
        purpose=purpose,
        event_id=f"e{at_s}",
        event_time=NOW + dt.timedelta(seconds=at_s),
        record=record,
    )


@pytest.fixture
def store(tmp_path: Path) -> ArchiveStore:
    built = ArchiveStore(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    built.migrate()
    return built


def test_the_archive_migration_creates_the_wallet_table(store: ArchiveStore) -> None:
    assert {"audit_entries", "audit_chain_heads", "wallet_records"} <= set(
        inspect(store.engine).get_table_names()
    )


def test_the_newest_change_wins_and_a_reread_changes_nothing(store: ArchiveStore) -> None:
    apply_changes(store, [change(1, {"surname": "Old"}), change(2, {"surname": "New"})], NOW)
    apply_changes(store, [change(1, {"surname": "Old"})], NOW)  # re-read after a crash
    [held] = records_of(store, A)
    assert (held.record, held.event_id) == ({"surname": "New"}, "e2")
    assert records_of(store, B) == []


def test_a_delete_removes_the_row_but_not_a_newer_one(store: ArchiveStore) -> None:
    apply_changes(store, [change(5, {"surname": "Kept"}), change(4, None)], NOW)
    assert len(records_of(store, A)) == 1
    apply_changes(store, [change(6, None)], NOW)
    assert records_of(store, A) == []


def test_forget_drops_only_that_person_and_purpose(store: ArchiveStore) -> None:
    apply_changes(store, [change(1, {"s": "a"}), change(1, {"s": "b"}, iin=B)], NOW)
    assert forget(store, A, "other purpose") == 0
    assert forget(store, A, "p") == 1
    assert records_of(store, A) == []
    assert len(records_of(store, B)) == 1
