"""The pure parts of webhook delivery: retry policy, commit points, body, signature, registration."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from bus.errors import ConfigError
from bus.event.envelope import ChangeKind
from bus.run.backoff import Backoff
from bus.subscriber import Update
from bus.webhooks.message import body_text, new_secret, signed_headers
from bus.webhooks.progress import PartitionProgress
from bus.webhooks.registration import check_secret, check_url
from bus.webhooks.retry import Attempt, Outcome, classify, next_delay, parse_retry_after

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (301, Outcome.REJECTED),
        (400, Outcome.REJECTED),
        (401, Outcome.REJECTED),
        (404, Outcome.REJECTED),
        (408, Outcome.THROTTLED),
        (429, Outcome.THROTTLED),
        (500, Outcome.SERVER_ERROR),
        (503, Outcome.SERVER_ERROR),
    ],
)
def test_status_decides_the_outcome(status: int, outcome: Outcome) -> None:
    assert classify(status, "", None, NOW).outcome is outcome


def test_only_delivered_and_rejected_end_the_retries() -> None:
    assert {o for o in Outcome if not o.retriable} == {Outcome.DELIVERED, Outcome.REJECTED}


def test_retry_after_counts_on_408_429_503_only() -> None:
    assert classify(429, "", "7", NOW).retry_after_s == 7
    assert classify(503, "", "7", NOW).retry_after_s == 7
    assert classify(408, "", "7", NOW).retry_after_s == 7
    assert classify(500, "", "7", NOW).retry_after_s is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT", NOW) == 30
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_rejection_detail_keeps_a_compact_body_excerpt() -> None:
    attempt = classify(400, '{"error":\n  "unknown taxpayer"}' + "x" * 1000, None, NOW)
    assert attempt.detail.startswith('HTTP 400: {"error": "unknown taxpayer"}')
    assert len(attempt.detail) < 320


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    backoff, rng = Backoff(first_s=1.0, cap_s=60.0, jitter=True), random.Random(1)
    for failures, ceiling in [(0, 1.0), (3, 8.0), (10, 60.0), (500, 60.0)]:
        delays = [backoff.delay(failures, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not clustered
    throttled = Attempt(Outcome.THROTTLED, 429, "HTTP 429", retry_after_s=42.0)
    assert next_delay(backoff, 0, throttled) == 42.0


def test_commit_point_stops_at_the_first_unfinished_offset() -> None:
    progress = PartitionProgress()
    for offset in (5, 6, 7, 9):
        progress.add(offset)
    progress.finish(6)
    progress.finish(9)
    assert (progress.commit_point, progress.unfinished) == (None, 2)
    progress.finish(5)
    assert progress.commit_point == 7
    progress.finish(7)
    assert (progress.commit_point, progress.unfinished) == (10, 0)
    with pytest.raises(ValueError, match="offsets must increase"):
        progress.add(9)


def update(kind: ChangeKind, record: dict[str, object] | None) -> Update:
    return Update(
        subject="900101300017",
        kind=kind,
        record=record,
        changed=["surname", "registered_address.street"],
        agreement="civil-to-tax",
        legal_basis=None,
        event_id="0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90",
        event_time=NOW,
        sequence=3,
        record_name="gov.civil.deliver.TaxPerson",
        source="/agencies/civil-registry/gbd-fl",
        topic="deliver.tax.civil-to-tax",
        partition=0,
        offset=12,
    )


def test_body_is_a_structured_cloudevent_that_verifies_with_the_secret() -> None:
    # given an update with an Avro date and non-ASCII text
    secret = new_secret()
    body = body_text(update(ChangeKind.UPDATED, {"surname": "Сәрсенбаев", "birth_date": dt.date(1990, 1, 1)}))
    headers = signed_headers(
        Webhook(secret), "0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90", body, dt.datetime.now(dt.UTC)
    )
    # then the receiver's Standard Webhooks check passes and yields the CloudEvent
    event = Webhook(secret).verify(body.encode(), headers)
    assert event == {
        "specversion": "1.0",
        "id": "0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90",
        "source": "/agencies/civil-registry/gbd-fl",
        "type": "gov.civil.deliver.TaxPerson.updated",
        "subject": "900101300017",
        "time": "2026-03-01T12:00:00Z",
        "datacontenttype": "application/json",
        "agreement": "civil-to-tax",
        "sequence": 3,
        "changed": "surname,registered_address.street",
        "data": {"surname": "Сәрсенбаев", "birth_date": "1990-01-01"},
    }
    # and another secret, or a changed body, does not verify
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body.encode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("Сәрсенбаев", "Other").encode(), headers)


def test_a_delete_has_null_data() -> None:
    assert json.loads(body_text(update(ChangeKind.DELETED, None)))["data"] is None


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("ftp://tax.example/hook", "not an absolute http"),
        ("/hook", "not an absolute http"),
        ("http://tax.example/hook", "plain HTTP"),
        ("https://user:pw@tax.example/hook", "contains credentials"),
    ],
)
def test_bad_webhook_urls_are_refused_with_a_hint(url: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named) as info:
        check_url("tax", url)
    assert "'tax'" in info.value.message
    assert info.value.hint


def test_https_loopback_http_and_allowed_http_urls_pass() -> None:
    assert check_url("tax", "https://tax.example/hook")
    assert check_url("tax", "http://127.0.0.1:9000/hook")
    assert check_url("tax", "http://tax.internal/hook", allow_http=True)


@pytest.mark.parametrize(
    "secret", ["secret", "whsec_", "whsec_c2hvcnQ=", "whsec_!!!notbase64!!!notbase64!!!!!!!!"]
)
def test_secrets_must_be_standard_webhooks_secrets(secret: str) -> None:
    with pytest.raises(ConfigError, match="not a Standard Webhooks secret"):
        check_secret("tax", secret)
    assert check_secret("tax", new_secret()).startswith("whsec_")
