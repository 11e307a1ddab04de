"""GET /v1/reports/agencies on the running bus of this package: auditors and the operator only."""

from __future__ import annotations

import pytest

from bus.wallet.store import WALLET
from tests.wallet.conftest import WalletStack


def test_an_auditor_reads_the_scorecard_with_the_wallet_agreement(wallet: WalletStack) -> None:
    stack = wallet.stack
    response = stack.get("/v1/reports/agencies", "auditor")
    assert response.status_code == 200, response.text
    body = response.json()
    agencies = {a["agency"]: a for a in body["agencies"]}
    assert agencies[WALLET]["name"] == "Citizen wallet"
    assert agencies[WALLET]["agreements_active"] >= 1
    assert agencies[stack.world.provider]["agreements_active"] >= 3  # tax, health, wallet
    assert stack.get("/v1/reports/agencies", "operator", period="2020-Q1").json()["period"] == "2020-Q1"


@pytest.mark.parametrize("who", ["portal", "tax"])
def test_portal_and_agency_tokens_may_not(wallet: WalletStack, who: str) -> None:
    response = wallet.stack.get("/v1/reports/agencies", who)
    assert response.status_code == 403
    assert "auditor" in response.json()["hint"]


def test_a_bad_period_is_422_and_no_token_is_401(wallet: WalletStack) -> None:
    assert wallet.stack.get("/v1/reports/agencies", "auditor", period="soon").status_code == 422
    assert wallet.stack.get("/v1/reports/agencies", None).status_code == 401
