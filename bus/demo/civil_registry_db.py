"""A small civil-registry database for ``bus up --demo`` and the CDC tests: schema plus people.

Deterministic: the same seed gives the same citizens (Faker ``ru_RU`` names, since Faker has no
``kk_KZ`` locale; Kazakh regions and settlements from a fixed list) with valid IINs whose birth
date and sex agree with the record. ``deploy/connectors/civil-registry.postgres.yaml`` maps
``registry.citizens`` onto the canonical ``person`` record.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Final

import psycopg2
from faker import Faker

from bus.validate.iin import make_iin

SCHEMA: Final = """
CREATE SCHEMA IF NOT EXISTS registry;
CREATE TABLE IF NOT EXISTS registry.citizens (
    iin             varchar(12) PRIMARY KEY,
    last_name       text NOT NULL,
    first_name      text NOT NULL,
    middle_name     text,
    birth_date      date NOT NULL,
    gender          char(1) NOT NULL CHECK (gender IN ('M', 'F')),
    citizenship     char(3) NOT NULL DEFAULT 'KAZ',
    phone           text,
    addr_region     text,
    addr_district   text,
    addr_settlement text,
    addr_street     text,
    addr_building   text,
    addr_apartment  text,
    doc_type        text,
    doc_number      text,
    doc_issued      date,
    doc_expires     date,
    doc_issuer      text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- updates then carry the whole old row, so the connector can say which fields changed
ALTER TABLE registry.citizens REPLICA IDENTITY FULL;
"""
COLUMNS: Final = [
    "iin",
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "gender",
    "citizenship",
    "phone",
    "addr_region",
    "addr_district",
    "addr_settlement",
    "addr_street",
    "addr_building",
    "addr_apartment",
    "doc_type",
    "doc_number",
    "doc_issued",
    "doc_expires",
    "doc_issuer",
]
PLACES: Final = (
    ("Akmola", "Tselinograd", "Kosshy"),
    ("Astana", None, "Astana"),
    ("Almaty", None, "Almaty"),
    ("Karaganda", "Bukhar-Zhyrau", "Botakara"),
    ("Turkistan", "Sairam", "Aksukent"),
    ("East Kazakhstan", "Glubokoe", "Glubokoe"),
)
STREETS: Final = ("Respublika", "Abai", "Kenesary", "Dostyk", "Tauelsizdik", "Satpayev", None)


def citizen(n: int, *, seed: int = 2026) -> dict[str, Any]:
    """The n-th demo citizen as a row of ``registry.citizens`` (column -> value)."""
    rng = random.Random(seed * 1_000_003 + n)
    fake = Faker("ru_RU")
    fake.seed_instance(seed * 1_000_003 + n)
    sex = "M" if rng.random() < 0.5 else "F"
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 66))
    iin, serial = None, rng.randrange(9000)
    while iin is None:
        iin = make_iin(birth, "MALE" if sex == "M" else "FEMALE", serial)
        serial += 1
    male = sex == "M"
    region, district, settlement = rng.choice(PLACES)
    issued = birth + dt.timedelta(days=365 * 16 + rng.randrange(365 * 10))
    has_document = rng.random() < 0.8
    return {
        "iin": iin,
        "last_name": fake.last_name_male() if male else fake.last_name_female(),
        "first_name": fake.first_name_male() if male else fake.first_name_female(),
        "middle_name": (fake.middle_name_male() if male else fake.middle_name_female())
        if rng.random() < 0.7
        else None,
        "birth_date": birth,
        "gender": sex,
        "citizenship": "KAZ",
        "phone": f"+7701{rng.randrange(10**7):07d}" if rng.random() < 0.6 else None,
        "addr_region": region,
        "addr_district": district,
        "addr_settlement": settlement,
        "addr_street": rng.choice(STREETS),
        "addr_building": str(1 + rng.randrange(150)),
        "addr_apartment": str(1 + rng.randrange(90)) if rng.random() < 0.5 else None,
        "doc_type": "ID" if has_document else None,
        "doc_number": f"{rng.randrange(10**9):09d}" if has_document else None,
        "doc_issued": issued if has_document else None,
        "doc_expires": issued + dt.timedelta(days=3652) if has_document else None,
        "doc_issuer": "MVD RK" if has_document else None,
    }


def create_schema(dsn: str) -> None:
    """Create ``registry.citizens`` (idempotent)."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
    conn.close()


def populate(dsn: str, count: int = 200, *, seed: int = 2026) -> list[str]:
    """Create the schema and insert ``count`` citizens (skipping ones already there); returns their IINs."""
    create_schema(dsn)
    rows = [citizen(n, seed=seed) for n in range(count)]
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO registry.citizens ({', '.join(COLUMNS)}) VALUES ({placeholders}) "
            "ON CONFLICT (iin) DO NOTHING",
            [tuple(row[c] for c in COLUMNS) for row in rows],
        )
    conn.close()
    return [row["iin"] for row in rows]
