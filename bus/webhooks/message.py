"""The HTTP request for one update: a structured-mode CloudEvents JSON body, signed per Standard Webhooks.

Pure (no I/O): the dispatcher builds the body once per update and re-signs it per attempt,
because ``webhook-timestamp`` must be fresh (receivers reject signatures older than 5 minutes).
The HMAC proves the dispatcher sent it; ``busproof`` carries the processor's own signature, the
exact header texts and Avro bytes it covers, so a receiver can prove the delivery came from the bus
under that agreement (docs/webhooks.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import uuid
from decimal import Decimal
from typing import Any, Final

from standardwebhooks import Webhook

from bus import __version__
from bus.delivery.update import Update
from bus.directory.model import PROCESSOR_IDENTITY
from bus.event.envelope import Headers
from bus.event.signed_delivery import DIGEST_HEADERS, PROOF_HEADERS, verify_delivery
from bus.event.signing import KeyLookup, SignatureError, Verifier

CONTENT_TYPE: Final = "application/cloudevents+json; charset=utf-8"
USER_AGENT: Final = f"agency-bus-webhooks/{__version__}"
SECRET_PREFIX: Final = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _json_value(value: object) -> Any:
    """Avro logical types in JSON: dates/times as ISO 8601, decimals as strings, bytes as base64."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot put a {type(value).__name__} into a webhook body")


def delivery_proof(headers: Headers, value: bytes | None) -> str:
    """The ``busproof`` attribute: compact JSON text (CloudEvents extensions are strings) of the
    processor's signature, key id and proof, and the header texts and value bytes they cover."""
    found = {name: bytes(raw).decode("utf-8", "replace") for name, raw in headers}
    signature, proof, key = (found.get(name, "") for name in PROOF_HEADERS)
    proof_body = {
        "signer": PROCESSOR_IDENTITY,
        "key": key,
        "signature": signature,
        "proof": proof,
        "headers": {name: found[name] for name in DIGEST_HEADERS if name in found},
        "value": None if value is None else base64.b64encode(value).decode("ascii"),
    }
    return json.dumps(proof_body, ensure_ascii=False, separators=(",", ":"))


def verify_busproof(event: dict[str, Any], keys: KeyLookup) -> None:
    """Raise ``SignatureError`` unless ``busproof`` verifies with the processor's key and names the
    event's own id, subject and agreement (for receivers that install agency-bus; docs/webhooks.md)."""
    try:
        proof = json.loads(event["busproof"])
        headers = {name: str(text).encode() for name, text in proof["headers"].items()}
        fields = ("signature", "proof", "key")
        headers.update({h: str(proof[f]).encode() for h, f in zip(PROOF_HEADERS, fields, strict=True)})
        value = None if proof["value"] is None else base64.b64decode(proof["value"], validate=True)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SignatureError("malformed", "the event has no readable busproof attribute") from None
    named = {"ce_id": "id", "ce_subject": "subject", "bus_agreement": "agreement"}
    for header, attribute in named.items():
        if headers.get(header, b"").decode() != str(event.get(attribute)):
            raise SignatureError("bad_proof", f"busproof covers another {attribute} than the event's")
    verify_delivery(Verifier(keys, cache_size=0), headers, value)


def cloudevent(update: Update, proof: str | None = None) -> dict[str, Any]:
    """CloudEvents 1.0 structured form of an update; extension attributes only when known."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": update.event_id,
        "source": update.source,
        "type": f"{update.record_name}.{update.kind.value}",
        "subject": update.subject,
        "time": update.event_time.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "agreement": update.agreement,
    }
    if update.legal_basis is not None:
        event["legalbasis"] = update.legal_basis
    if update.sequence is not None:
        event["sequence"] = update.sequence
    if update.changed:
        event["changed"] = ",".join(update.changed)
    if proof is not None:
        event["busproof"] = proof
    event["data"] = update.record
    return event


def body_text(update: Update, proof: str | None = None) -> str:
    """The exact text that is signed and sent (UTF-8, compact separators)."""
    return json.dumps(
        cloudevent(update, proof), default=_json_value, ensure_ascii=False, separators=(",", ":")
    )


def signed_headers(webhook: Webhook, message_id: str, body: str, now: dt.datetime) -> dict[str, str]:
    """Standard Webhooks headers for one attempt (``webhook-id`` = ce_id, the receiver's dedup key)."""
    now = now.astimezone(dt.UTC)  # the library reads the wall-clock fields as UTC
    return {
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": webhook.sign(message_id, now, body),
    }
