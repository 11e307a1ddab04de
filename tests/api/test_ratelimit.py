"""Ingestion is rate-limited per agency: a burst passes, then 429 with Retry-After, others unaffected."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from bus.gateway.ratelimit import RateLimited, RateLimiter
from tests.api.conftest import ApiStack, running_gateway, wait_for_token
from tests.people import person


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_bucket_refuses_with_the_time_until_it_can_pay() -> None:
    # given a bucket of 3 refilling at 2 per second
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    # when 3 events come at once, then a 4th
    for _ in range(3):
        limiter.take("akimat")
    with pytest.raises(RateLimited) as refused:
        limiter.take("akimat")
    # then the 4th is refused until one token is back (0.5 s, announced as 1 whole second)
    assert refused.value.retry_after_s == pytest.approx(0.5)
    assert refused.value.retry_after_header == "1"
    clock.now += 0.5
    limiter.take("akimat")


def test_agencies_have_buckets_of_their_own() -> None:
    # given one agency that emptied its bucket
    limiter = RateLimiter(1.0, 1, clock=Clock())
    limiter.take("akimat")
    # when another agency sends; then it passes
    limiter.take("tax")


def test_a_batch_costs_one_token_per_event_and_at_most_the_whole_burst() -> None:
    # given a bucket of 10
    clock = Clock()
    limiter = RateLimiter(10.0, 10, clock=clock)
    # when a batch of 1,000 arrives on a full bucket; then it passes (and empties the bucket)
    limiter.take("akimat", 1000)
    with pytest.raises(RateLimited):
        limiter.take("akimat", 1)
    # and a batch of 4 waits for 4 tokens
    with pytest.raises(RateLimited) as refused:
        limiter.take("akimat", 4)
    assert refused.value.retry_after_s == pytest.approx(0.4)


def test_a_zero_rate_turns_the_limit_off() -> None:
    limiter = RateLimiter(0, 1, clock=Clock())
    for _ in range(10_000):
        limiter.take("akimat")


def _event(url: str, token: str, n: int) -> httpx.Response:
    record: dict[str, Any] = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in person(n).items()
    }
    return httpx.post(
        f"{url}/v1/events/person",
        params={"kind": "updated", "changed": "surname"},
        json=record,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_the_gateway_answers_429_with_retry_after_to_the_agency_over_its_rate_only(
    api_stack: ApiStack,
) -> None:
    # given a gateway that lets each agency ingest 3 events at once and 1 per second after
    env = {"BUS_GATEWAY_INGEST_RATE_PER_S": "1", "BUS_GATEWAY_INGEST_BURST": "3"}
    with running_gateway(api_stack, **env) as url:
        wait_for_token(url, api_stack.tokens["provider"])
        # when the provider sends 5 events back to back
        answers = [_event(url, api_stack.tokens["provider"], n) for n in range(5)]
        # then 3 are accepted and the rest are refused with 429 and Retry-After
        statuses = [a.status_code for a in answers]
        assert statuses[:3] == [201, 201, 201], [a.text for a in answers]
        assert 429 in statuses[3:]
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["error"] == "rate_limited"
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        # and another agency is not held back by it
        assert _event(url, api_stack.tokens["other"], 7).status_code == 201
        # and after Retry-After the provider is accepted again
        time.sleep(retry_after)
        assert _event(url, api_stack.tokens["provider"], 9).status_code == 201
