"""A deterministic mix of INSERT/UPDATE/DELETE transactions on registry.citizens, and the events it must give.

The expected records are built here by hand from the rows (not by the connector's mapper), so the
specs check the mapping rather than restate it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg2

from bus.demo.civil_registry_db import COLUMNS, citizen
from bus.event.envelope import ChangeKind
from bus.policy.compile import changed_paths

Row = dict[str, Any]
Statement = tuple[str, tuple[Any, ...]]
Expected = tuple[ChangeKind, dict[str, Any] | None, tuple[str, ...] | None]
_INSERT = f"INSERT INTO registry.citizens ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
_DOCUMENT_TYPES = {"ID": "ID_CARD", "PASSPORT": "PASSPORT", "BIRTH": "BIRTH_CERTIFICATE"}


def person_of(row: Row) -> dict[str, Any]:
    """The person record the civil-registry mapping must produce for ``row``."""
    address = (
        "addr_region",
        "addr_district",
        "addr_settlement",
        "addr_street",
        "addr_building",
        "addr_apartment",
    )
    document = ("doc_type", "doc_number", "doc_issued", "doc_expires", "doc_issuer")
    return {
        "iin": row["iin"],
        "surname": row["last_name"],
        "given_name": row["first_name"],
        "patronymic": row["middle_name"],
        "birth_date": row["birth_date"],
        "sex": {"M": "MALE", "F": "FEMALE"}[row["gender"]],
        "citizenship": row["citizenship"],
        "registered_address": None
        if all(row[c] is None for c in address)
        else {
            "region": row["addr_region"],
            "district": row["addr_district"],
            "settlement": row["addr_settlement"],
            "street": row["addr_street"],
            "building": row["addr_building"],
            "apartment": row["addr_apartment"],
            "ark_code": None,
        },
        "phone": row["phone"],
        "document": None
        if all(row[c] is None for c in document)
        else {
            "type": _DOCUMENT_TYPES[row["doc_type"]],
            "number": row["doc_number"],
            "issued_on": row["doc_issued"],
            "expires_on": row["doc_expires"],
            "issuer": row["doc_issuer"],
        },
    }


@dataclass
class Workload:
    transactions: list[tuple[list[Statement], bool]]  # statements, committed (else rolled back)
    expected: dict[str, list[Expected]] = field(default_factory=lambda: defaultdict(list))

    @property
    def statements(self) -> int:
        return sum(len(s) for s, _ in self.transactions)

    @property
    def events(self) -> int:
        return sum(len(v) for v in self.expected.values())

    def run(self, dsn: str, after_each: Callable[[int], None] | None = None) -> None:
        """Execute every transaction in order (commit or roll back); ``after_each(i)`` after the i-th."""
        conn = psycopg2.connect(dsn)
        try:
            with conn.cursor() as cur:
                for number, (statements, commit) in enumerate(self.transactions):
                    for sql, params in statements:
                        cur.execute(sql, params)
                    conn.commit() if commit else conn.rollback()
                    if after_each is not None:
                        after_each(number)
        finally:
            conn.close()


def build(seed: int, statements: int, existing: list[Row], *, first_new: int = 10_000) -> Workload:
    """About ``statements`` statements in transactions of 1-15, one in ten rolled back."""
    rng = random.Random(seed)
    present: dict[str, Row] = {r["iin"]: dict(r) for r in existing}
    workload = Workload([])
    for row in existing:
        workload.expected[row["iin"]].append((ChangeKind.SNAPSHOT, person_of(row), None))
    next_new = first_new
    count = 0
    while count < statements:
        commit = rng.random() >= 0.1
        rows = {k: dict(v) for k, v in present.items()}
        sqls: list[Statement] = []
        events: list[tuple[str, Expected]] = []
        for _ in range(rng.randint(1, 15)):
            choice = rng.random()
            if choice < 0.35 or len(rows) < 20:
                row = citizen(next_new, seed=seed)
                next_new += 1
                if row["iin"] in rows or row["iin"] in present:
                    continue
                rows[row["iin"]] = row
                sqls.append((_INSERT, tuple(row[c] for c in COLUMNS)))
                events.append((row["iin"], (ChangeKind.CREATED, person_of(row), None)))
            elif choice < 0.75:
                iin = rng.choice(sorted(rows))
                old = rows[iin]
                new = _changed(rng, old)
                rows[iin] = new
                columns = [c for c in COLUMNS if new[c] != old[c]]
                sqls.append(
                    (
                        f"UPDATE registry.citizens SET {', '.join(f'{c} = %s' for c in columns)} "
                        "WHERE iin = %s",
                        (*(new[c] for c in columns), iin),
                    )
                )
                changed = changed_paths(person_of(old), person_of(new))
                events.append((iin, (ChangeKind.UPDATED, person_of(new), changed)))
            else:
                iin = rng.choice(sorted(rows))
                del rows[iin]
                sqls.append(("DELETE FROM registry.citizens WHERE iin = %s", (iin,)))
                events.append((iin, (ChangeKind.DELETED, None, None)))
        if not sqls:
            continue
        count += len(sqls)
        workload.transactions.append((sqls, commit))
        if commit:
            present = rows
            for key, event in events:
                workload.expected[key].append(event)
    return workload


def _changed(rng: random.Random, old: Row) -> Row:
    new = dict(old)
    kind = rng.randrange(4)
    if kind == 0:
        while new["phone"] == old["phone"]:
            new["phone"] = f"+7702{rng.randrange(10**7):07d}"
    elif kind == 1:
        new.update(
            addr_region="Astana",
            addr_district=None,
            addr_settlement="Astana",
            addr_street=rng.choice(["Kabanbay batyr", "Turan", "Mangilik El"]),
            addr_building=str(rng.randrange(1, 400)),
            addr_apartment=str(rng.randrange(1, 200)),
        )
        if new == old:
            new["addr_building"] = str(int(old["addr_building"]) + 1)
    elif kind == 2:
        new["last_name"] = old["last_name"] + "-" + rng.choice(["Abenova", "Serikova", "Nurova"])
    else:
        new["middle_name"] = None if old["middle_name"] else "Serikuly"
    return new


def check(events: list[Any], workload: Workload) -> None:
    """Every expected event once per ce_id, per key in commit order; repeats only as identical copies."""
    by_id: dict[str, set[tuple[str, bytes | None]]] = defaultdict(set)
    first: dict[str, Any] = {}
    for event in events:
        by_id[event.envelope.id].add((event.key, event.value))
        first.setdefault(event.envelope.id, event)
    repeated = {i: copies for i, copies in by_id.items() if len(copies) > 1}
    assert not repeated, f"{len(repeated)} ce_ids were re-sent with different content"
    observed: dict[str, list[Any]] = defaultdict(list)
    for event in first.values():
        observed[event.key].append(event)
    assert set(observed) == set(workload.expected), "events for the wrong set of keys"
    for key, expected in workload.expected.items():
        got = sorted(observed[key], key=lambda e: e.envelope.sequence)
        actual = [(e.envelope.kind, e.record, e.envelope.changed) for e in got]
        assert actual == expected, f"key {key}: events differ"
