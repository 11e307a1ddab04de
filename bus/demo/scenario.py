"""``bus up --demo``: a citizen moves house, and the data moves instead of the citizen.

1. the civil registry publishes the citizen (snapshot): tax, social protection and the
   portal receive their projections; the clinic is refused (no consent yet);
2. the citizen moves: an address change reaches tax, social protection and the portal;
3. the citizen grants the clinic consent in the wallet, the civil registry corrects the
   citizen's patronymic: now the clinic receives it;
4. the land registry records the sale of a parcel to the citizen: tax learns of it;
5. an old system of the civil registry sends bytes that are not a record: they are parked on
   ``dlq.civil-registry`` with the reason, and nobody receives them.
The portal has no Kafka: it receives its updates as signed webhooks (``portal_webhook``).
Before step 1 the citizen grants the citizen wallet (the bus's built-in consumer ``wallet``)
"personal data portability", so each civil-registry step also reaches their wallet.
Every step is published through the SDK (validated, signed, spooled) and decided by the
processor; the table shown is read back from the audit trail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.directory.model import AgencyEntry, WebhookEntry
from bus.directory.publish import put_agency
from bus.event.envelope import ChangeKind, Envelope
from bus.event.signing import key_id_for, public_key_text
from bus.event.topics import ingress
from bus.gateway.consent_writer import record_consent
from bus.kafka.client import KafkaSettings, make_producer
from bus.policy.consent import ConsentRecord, ConsentStatus
from bus.wallet.store import WALLET
from connectors.sdk import Change, Publisher

CITIZEN: dict[str, Any] = {
    "iin": "900514301239",
    "surname": "Abenov",
    "given_name": "Nurlan",
    "patronymic": "Serikuly",
    "birth_date": dt.date(1990, 5, 14),
    "sex": "MALE",
    "citizenship": "KAZ",
    "registered_address": {
        "region": "Akmola",
        "district": "Tselinograd",
        "settlement": "Kosshy",
        "street": "Respublika",
        "building": "12",
        "apartment": "4",
        "ark_code": None,
    },
    "phone": None,
    "document": {
        "type": "ID_CARD",
        "number": "047129385",
        "issued_on": dt.date(2019, 8, 1),
        "expires_on": dt.date(2029, 7, 31),
        "issuer": "MVD RK",
    },
}
PARCEL: dict[str, Any] = {
    "cadastral_number": "01:011:004:1234",
    "area_m2": 1000.0,
    "purpose": "RESIDENTIAL",
    "owner_iin": CITIZEN["iin"],
    "owner_bin": None,
    "address": {
        "region": "Akmola",
        "district": "Tselinograd",
        "settlement": "Kosshy",
        "street": "Bereke",
        "building": "7",
        "ark_code": None,
    },
    "registered_on": dt.date(2026, 11, 20),
}
AGENCIES = {
    "civil-registry": "Civil registry (GBD FL)",
    "land-registry": "Land cadastre",
    "vehicle-registry": "Vehicle registry",
    "tax": "State revenue committee",
    "social-protection": "Social protection",
    "health": "Primary care clinics",
    "egov-portal": "eGov citizen portal",
    "police": "Police",
    "insurance-bureau": "Insurance bureau",
}
HEALTH_PURPOSE = "attachment to a primary care clinic"
WALLET_PURPOSE = "personal data portability"  # deploy/agreements/civil-to-wallet-person.yaml


@dataclass(frozen=True)
class Step:
    title: str
    event_ids: list[str]


async def run_scenario(
    settings: KafkaSettings,
    registry_url: str,
    work_dir: Path | None = None,
    portal_webhook: WebhookEntry | None = None,
) -> list[Step]:
    """Register the demo agencies and publish the five steps; returns their event ids."""
    # first, so the processor has followed it long before step 1 (agencies are registered meanwhile)
    await grant_consent(settings, CITIZEN["iin"], WALLET, WALLET_PURPOSE)
    keys = {agency: Ed25519PrivateKey.generate() for agency in ("civil-registry", "land-registry")}
    for agency, name in AGENCIES.items():
        key = keys.get(agency)
        public = {key_id_for(key.public_key()): public_key_text(key.public_key())} if key else {}
        webhook = portal_webhook if agency == "egov-portal" else None
        await put_agency(settings, AgencyEntry(id=agency, name=name, public_keys=public, webhook=webhook))
    folder = work_dir or Path(tempfile.mkdtemp(prefix="bus-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    steps = []
    moved = {
        **CITIZEN,
        "registered_address": {
            **CITIZEN["registered_address"],
            "settlement": "Astana",
            "region": "Astana",
            "district": None,
            "street": "Mangilik El",
            "building": "55",
            "apartment": "18",
        },
    }
    corrected = {**moved, "patronymic": "Serikuly (corrected)"}
    async with Publisher(
        "civil-registry",
        "gbd-fl",
        keys["civil-registry"],
        bootstrap=settings,
        registry=registry_url,
        spool_path=folder / "civil.spool.sqlite",
    ) as civil:
        steps.append(
            Step(
                "the civil registry publishes the citizen",
                await _publish(civil, [Change(ChangeKind.SNAPSHOT, "person", CITIZEN["iin"], CITIZEN)]),
            )
        )
        steps.append(
            Step(
                "the citizen moves to Astana",
                await _publish(
                    civil,
                    [Change(ChangeKind.UPDATED, "person", CITIZEN["iin"], moved, ["registered_address"])],
                ),
            )
        )
        await grant_consent(settings, CITIZEN["iin"], "health", HEALTH_PURPOSE)
        await asyncio.sleep(1.0)  # the processor follows bus.consent; a grant applies within a second
        steps.append(
            Step(
                "consent granted in the wallet; the patronymic is corrected",
                await _publish(
                    civil, [Change(ChangeKind.UPDATED, "person", CITIZEN["iin"], corrected, ["patronymic"])]
                ),
            )
        )
        await civil.flush(timeout_s=60)
    async with Publisher(
        "land-registry",
        "cadastre",
        keys["land-registry"],
        bootstrap=settings,
        registry=registry_url,
        spool_path=folder / "land.spool.sqlite",
    ) as land:
        steps.append(
            Step(
                "the land registry records a sale to the citizen",
                await _publish(
                    land,
                    [
                        Change(
                            ChangeKind.UPDATED,
                            "land_parcel",
                            PARCEL["cadastral_number"],
                            PARCEL,
                            ["owner_iin"],
                        )
                    ],
                ),
            )
        )
        await land.flush(timeout_s=60)
    steps.append(Step("an old civil-registry system sends a broken record", [await _send_garbage(settings)]))
    return steps


async def _send_garbage(settings: KafkaSettings) -> str:
    """What a misconfigured legacy exporter does: well-formed headers, a value that is not Avro."""
    event_id = str(uuid.uuid4())
    envelope = Envelope.new(
        provider="civil-registry",
        system="legacy-export",
        record_name="gov.civil.Person",
        kind=ChangeKind.UPDATED,
        subject=CITIZEN["iin"],
        event_id=event_id,
    )
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            ingress("civil-registry", "person"),
            key=CITIZEN["iin"].encode(),
            value=b"IIN;SURNAME;ADDRESS\n900514301239;Abenov;Astana",
            headers=envelope.to_headers(),
        )
    finally:
        await producer.stop()
    return event_id


async def _publish(publisher: Publisher, changes: Sequence[Change]) -> list[str]:
    ids = await publisher.publish_many(changes)
    await publisher.flush(timeout_s=60)
    return ids


async def grant_consent(settings: KafkaSettings, subject: str, consumer: str, purpose: str) -> None:
    """What the wallet's consent API does (the API itself is the transparency issue)."""
    await record_consent(
        settings,
        ConsentRecord(
            subject=subject,
            consumer=consumer,
            purpose=purpose,
            status=ConsentStatus.GRANTED,
            time=dt.datetime.now(dt.UTC),
            channel="demo-wallet",
        ),
    )
