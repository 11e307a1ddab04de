"""A rural akimat's land register as the XLSX export it sends, and its import for ``bus up --demo``.

The workbook is generated deterministically (the same seed gives byte-identical files) with
Faker's ``ru_RU`` locale (Faker has no ``kk_KZ``; Kazakh village names are listed here) and
valid identifiers: IINs and BINs with real check digits, cadastral numbers of the Tselinograd
district of Akmola region. It goes through the same connector an agency would run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import random
import zipfile
from pathlib import Path
from typing import Any, Final

import openpyxl
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faker import Faker

from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.view import AgencyDirectory
from bus.event.signing import key_id_for, public_key_text
from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings, read_to_end
from bus.registry.client import RegistryClient
from bus.registry.subjects import SchemaCache
from bus.validate.iin import iin_check_digit, make_iin
from connectors.files import ImportOptions, ImportSummary, SnapshotStore, import_file, load_mapping
from connectors.sdk import Publisher

__all__ = ["HEADER", "MAPPING", "akimat_rows", "import_akimat_export", "write_akimat_export"]

MAPPING: Final = (
    Path(__file__).resolve().parents[2] / "deploy" / "connectors" / "land-registry.akimat-xlsx.yaml"
)
HEADER: Final = (
    "№",
    "Кадастровый номер",
    "Площадь, м²",
    "Целевое назначение",
    "Правообладатель",
    "ИИН правообладателя",
    "БИН правообладателя",
    "Область",
    "Район",
    "Населённый пункт",
    "Улица",
    "Участок",
    "Дата регистрации права",
)
_VILLAGES: Final = ("Косшы", "Талапкер", "Караоткель", "Акмол", "Тайтобе", "Кызылжар", "Жибек жолы")
_PURPOSES: Final = (
    ("Ведение личного подсобного хозяйства", 0.45, (600.0, 2500.0)),
    ("Индивидуальное жилищное строительство", 0.30, (400.0, 1200.0)),
    ("Сельскохозяйственное производство", 0.15, (50_000.0, 2_000_000.0)),
    ("Коммерческое", 0.07, (200.0, 5_000.0)),
    ("Земли запаса", 0.03, (10_000.0, 500_000.0)),
)
_FIXED_TIME: Final = dt.datetime(2026, 1, 1)
_ZIP_TIME: Final = (2026, 1, 1, 0, 0, 0)


def _bin(rng: random.Random) -> str:
    while True:
        first11 = (
            f"{rng.randint(0, 25):02d}{rng.randint(1, 12):02d}4{rng.randint(0, 9)}{rng.randint(0, 99999):05d}"
        )
        check = iin_check_digit(first11)
        if check is not None:
            return f"{first11}{check}"


def _iin(rng: random.Random, birth: dt.date, sex: str) -> str:
    while (iin := make_iin(birth, sex, rng.randint(0, 9999))) is None:
        pass
    return iin


def akimat_rows(count: int = 200, seed: int = 2026) -> list[list[Any]]:
    """The register's rows (as cells: text, numbers, dates), the same for the same seed."""
    rng = random.Random(seed)
    fake = Faker("ru_RU")
    fake.seed_instance(seed)
    rows: list[list[Any]] = []
    for n in range(1, count + 1):
        name, _, (low, high) = _pick(rng)
        quarter, parcel = 1 + (n - 1) // 400, 1 + (n - 1) % 400
        if rng.random() < 0.85:
            sex = rng.choice(("MALE", "FEMALE"))
            birth = fake.date_between(dt.date(1941, 1, 1), dt.date(2005, 12, 31))  # not relative to today
            holder = fake.name_male() if sex == "MALE" else fake.name_female()
            iin, bin_ = _iin(rng, birth, sex), ""
        else:
            holder, iin, bin_ = fake.company(), "", _bin(rng)
        rows.append(
            [
                n,
                f"01:011:{quarter:03d}:{parcel:04d}",
                round(rng.uniform(low, high), 1),
                name,
                holder,
                iin,
                bin_,
                "Акмолинская",
                "Целиноградский",
                rng.choice(_VILLAGES),
                fake.street_name(),
                str(rng.randint(1, 250)),
                dt.datetime.combine(fake.date_between(dt.date(1996, 1, 1), dt.date(2025, 12, 31)), dt.time()),
            ]
        )
    return rows


def _pick(rng: random.Random) -> tuple[str, float, tuple[float, float]]:
    roll, total = rng.random(), 0.0
    for purpose in _PURPOSES:
        total += purpose[1]
        if roll < total:
            return purpose
    return _PURPOSES[0]


def write_akimat_export(path: Path, count: int = 200, seed: int = 2026) -> Path:
    """Write the export as XLSX; fixed document and zip timestamps make it byte-identical per seed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.create_sheet("Реестр", 0)
    workbook.remove(workbook.worksheets[1])
    sheet.append(list(HEADER))
    for row in akimat_rows(count, seed):
        sheet.append(row)
    for cell in sheet["M"][1:]:
        cell.number_format = "DD.MM.YYYY"
    workbook.properties.created = workbook.properties.modified = _FIXED_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    workbook.close()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(zipfile.ZipInfo(item.filename, _ZIP_TIME), source.read(item.filename))
    return path


async def import_akimat_export(
    settings: KafkaSettings,
    registry_url: str,
    work_dir: Path,
    *,
    agency: str = "land-registry",
    key: Ed25519PrivateKey | None = None,
    count: int = 200,
) -> ImportSummary:
    """Write the export into ``work_dir`` and import it as ``agency`` (its key is added to the directory)."""
    key = key or Ed25519PrivateKey.generate()
    await _register_key(settings, agency, key)
    await asyncio.sleep(1.0)  # the processor follows bus.agencies: let it learn the key before the events
    export = await asyncio.to_thread(write_akimat_export, work_dir / "akimat-land-register.xlsx", count)
    spool = work_dir / f"{agency}.files.spool.sqlite"
    async with RegistryClient(registry_url) as client:
        schema = await SchemaCache(client).resolve(agency, "land_parcel")
    options = ImportOptions(feed=f"{agency}/land_parcel")
    with SnapshotStore(work_dir / f"{agency}.files.snapshots.sqlite") as store:
        async with Publisher(
            agency, "akimat-xlsx", key, bootstrap=settings, registry=registry_url, spool_path=spool
        ) as publisher:
            summary = await import_file(
                export, load_mapping(MAPPING), schema, "land_parcel", store, publisher, options,
                mapping_source=str(MAPPING),
            )  # fmt: skip
            await publisher.flush(timeout_s=60)
    return summary


async def _register_key(settings: KafkaSettings, agency: str, key: Ed25519PrivateKey) -> None:
    directory = AgencyDirectory()
    for record in await read_to_end(settings, SystemTopic.AGENCIES):
        directory.apply(record)
    entry = directory.get(agency) or AgencyEntry(id=agency, name="Land cadastre")
    public = key.public_key()
    keys = {**entry.public_keys, key_id_for(public): public_key_text(public)}
    await put_agency(settings, entry.model_copy(update={"public_keys": keys}))
