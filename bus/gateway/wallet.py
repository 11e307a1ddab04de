"""The citizen's wallet over HTTP: a per-person token, then ``GET /v1/wallet/{iin}/records``.

``POST /v1/wallet/tokens`` (portal token): the portal, having signed the person in, asks for a
short-lived wallet token bound to their IIN. ``GET /v1/wallet/{iin}/records`` needs the portal token
*and* that person's wallet token (``X-Wallet-Token``): another person's token is a 403. Every read
is recorded on ``bus.audit.reads`` first, like the tracker's. See docs/wallet.md.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from bus.directory.model import Principal, Role
from bus.directory.view import AgencyDirectory
from bus.errors import RecordInvalidError
from bus.gateway.access import authenticate
from bus.gateway.errors import NotAllowed
from bus.gateway.reads import ReadKind, ReadLog
from bus.gateway.tracker import ArchiveReader, Party
from bus.validate.iin import validate_iin
from bus.validate.result import Invalid
from bus.wallet import token
from bus.wallet.store import records_of

WALLET_CALLERS = frozenset({Role.PORTAL, Role.OPERATOR})
TOKEN_HEADER = "x-wallet-token"


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iin: str = Field(description="The IIN of the person the portal has just signed in.")


class WalletToken(BaseModel):
    iin: str
    token: str = Field(description="Send as X-Wallet-Token with the portal token.")
    expires: dt.datetime


class WalletItem(BaseModel):
    """The latest record of one type about the person, as the provider last sent it to the wallet."""

    record_type: str
    provider: Party
    agreement: str
    purpose: str
    event_id: str
    changed_at: dt.datetime = Field(description="When the provider recorded the change (ce_time).")
    received: dt.datetime = Field(description="When the wallet stored it.")
    record: dict[str, Any]


class WalletView(BaseModel):
    iin: str
    records: list[WalletItem]


class Wallet:
    """Issues wallet tokens and answers wallet reads for the portal, audited."""

    def __init__(
        self, archive: ArchiveReader, directory: AgencyDirectory, reads: ReadLog, secret: bytes
    ) -> None:
        self.archive = archive
        self.directory = directory
        self.reads = reads
        self._secret = secret

    def _portal(self, principal: Principal) -> None:
        if principal.role not in WALLET_CALLERS:
            raise NotAllowed(
                f"{principal.label!r} may not open a citizen's wallet",
                hint="the wallet is served to the citizen portal, for the person signed in; agencies "
                "receive data under agreements and auditors read the tracker, not record values",
            )

    def issue(self, principal: Principal, iin: str) -> WalletToken:
        self._portal(principal)
        verdict = validate_iin(iin)
        if isinstance(verdict, Invalid):
            raise RecordInvalidError(
                "a wallet token is issued for a person's IIN", [("iin", verdict.reason)],
                hint="send the IIN the person signed in with",
            )  # fmt: skip
        issued, expires = token.issue(self._secret, iin, dt.datetime.now(dt.UTC))
        return WalletToken(iin=iin, token=issued, expires=expires)

    async def view(self, principal: Principal, iin: str, wallet_token: str | None) -> WalletView:
        self._portal(principal)
        why = token.problem(self._secret, wallet_token, iin, dt.datetime.now(dt.UTC))
        if why is not None:
            raise NotAllowed(
                f"this wallet is not readable with the credentials sent: {why}",
                hint="issue a wallet token for the signed-in person (POST /v1/wallet/tokens) and send it "
                "as X-Wallet-Token; a token opens only its own person's wallet",
            )
        found = await asyncio.to_thread(records_of, self.archive.store(), iin)
        await self.reads.record(principal, iin, ReadKind.WALLET, returned=len(found))
        return WalletView(
            iin=iin,
            records=[
                WalletItem(
                    record_type=r.record_type,
                    provider=self._party(r.provider),
                    agreement=r.agreement_id,
                    purpose=r.purpose,
                    event_id=r.event_id,
                    changed_at=r.event_time,
                    received=r.received,
                    record=r.record,
                )
                for r in found
            ],
        )

    def _party(self, agency: str) -> Party:
        entry = self.directory.get(agency)
        return Party(id=agency, name=entry.name if entry else None)


def router(wallet: Wallet) -> APIRouter:
    api = APIRouter(tags=["wallet"])

    @api.post("/v1/wallet/tokens", status_code=201, response_model=WalletToken)
    async def issue_token(request: Request, body: TokenRequest) -> WalletToken:
        """For the portal, right after the person signed in: a 15-minute token bound to their IIN."""
        principal = authenticate(wallet.directory, request.headers.get("authorization"), "a wallet token")
        return wallet.issue(principal, body.iin)

    @api.get("/v1/wallet/{iin}/records", response_model=WalletView)
    async def wallet_records(request: Request, iin: str) -> WalletView:
        """The latest record of each type about the person; portal token plus their wallet token."""
        principal = authenticate(wallet.directory, request.headers.get("authorization"), "the wallet")
        return await wallet.view(principal, iin, request.headers.get(TOKEN_HEADER))

    return api
