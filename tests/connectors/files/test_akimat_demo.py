"""The demo akimat export: deterministic, valid identifiers, imported cleanly through the connector."""

from __future__ import annotations

from pathlib import Path

import httpx

from bus.demo.akimat_export import MAPPING, akimat_rows, import_akimat_export, write_akimat_export
from bus.event.topics import spec_for
from bus.kafka.client import KafkaSettings, create_topics, read_to_end
from bus.validate.cadastral import validate_cadastral
from bus.validate.iin import validate_bin, validate_iin
from bus.validate.result import Valid
from tests.conftest import REPO


def test_the_export_is_byte_identical_per_seed_with_valid_identifiers(tmp_path: Path) -> None:
    first = write_akimat_export(tmp_path / "a" / "x.xlsx", count=50)
    second = write_akimat_export(tmp_path / "b" / "x.xlsx", count=50)
    assert first.read_bytes() == second.read_bytes()
    assert akimat_rows(50, seed=1) != akimat_rows(50, seed=2)
    for row in akimat_rows(500):
        assert validate_cadastral(row[1]) == Valid()
        assert validate_iin(row[5]) == Valid() if row[5] else validate_bin(row[6]) == Valid()
    assert MAPPING.is_file()


async def test_the_demo_import_publishes_every_parcel_once(
    tmp_path: Path, unique: str, registry_url: str, operator_token: str, kafka_settings: KafkaSettings
) -> None:
    agency = f"land-{unique}"
    topic = f"ingress.{agency}.land_parcel"
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{registry_url}/subjects/{topic}-value/versions",
            json={"schema": (REPO / "schemas" / "land" / "land_parcel.avsc").read_text()},
            headers={"Authorization": f"Bearer {operator_token}"},
        )
    assert response.status_code == 200, response.text
    await create_topics(kafka_settings, [spec_for(topic)])

    first = await import_akimat_export(kafka_settings, registry_url, tmp_path, agency=agency, count=120)
    assert (first.created, first.rejected_rows, first.ignored_columns) == (120, 0, ["№", "Правообладатель"])
    again = await import_akimat_export(kafka_settings, registry_url, tmp_path, agency=agency, count=120)
    assert (again.published, again.unchanged) == (0, 120)
    assert len(await read_to_end(kafka_settings, topic)) == 120
