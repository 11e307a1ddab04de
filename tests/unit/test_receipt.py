"""Who may sign a receipt: the consumer it names, or the webhook dispatcher; nobody else."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bus.directory.model import WEBHOOKS_IDENTITY
from bus.event.signed_event import Signer
from bus.event.signing import SignatureError, Verifier
from bus.receipts.receipt import Receipt, signed_receipts, verified_receipt

TAX, HEALTH, DISPATCHER = (Signer.of(Ed25519PrivateKey.generate()) for _ in range(3))
KEYS: dict[tuple[str, str], Ed25519PublicKey] = {
    ("tax", TAX.key_id): TAX.private_key.public_key(),
    ("health", HEALTH.key_id): HEALTH.private_key.public_key(),
    (WEBHOOKS_IDENTITY, DISPATCHER.key_id): DISPATCHER.private_key.public_key(),
}


def _receipt(consumer: str = "tax", **changes: object) -> Receipt:
    values: dict[str, object] = {
        "consumer": consumer,
        "agreement": "civil-to-tax",
        "event_id": "6a1a4c5e-0000-4000-8000-000000000001",
        "subject": "900101300017",
        "delivery": "ab" * 32,
        "received_at": dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC),
        **changes,
    }
    return Receipt.model_validate(values)


def _check(signer: Signer, receipt: Receipt) -> Receipt:
    [(_, value, headers)] = signed_receipts(signer, [receipt])
    return verified_receipt(Verifier(lambda i, k: KEYS.get((i, k))), value, dict(headers))


def test_the_consumer_signs_its_own_receipt() -> None:
    assert _check(TAX, _receipt()).consumer == "tax"


def test_another_agency_cannot_sign_a_receipt_for_the_consumer() -> None:
    with pytest.raises(SignatureError) as refused:
        _check(HEALTH, _receipt())
    assert refused.value.reason == "unknown_key"  # health's key is not among tax's keys


def test_the_dispatcher_signs_for_a_webhook_receiver_with_its_answer() -> None:
    receipt = _check(DISPATCHER, _receipt(by=WEBHOOKS_IDENTITY, status=204))
    assert (receipt.signer, receipt.status) == (WEBHOOKS_IDENTITY, 204)


def test_an_agency_cannot_pass_itself_off_as_the_dispatcher() -> None:
    with pytest.raises(SignatureError):
        _check(HEALTH, _receipt(by=WEBHOOKS_IDENTITY, status=200))


def test_no_other_signer_may_be_named() -> None:
    with pytest.raises(SignatureError, match="not by 'health'"):
        _check(HEALTH, _receipt(by="health"))
