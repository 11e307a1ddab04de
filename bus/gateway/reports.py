"""``GET /v1/reports/agencies``: the per-agency scorecard (bus/report/) for auditors and the operator.

Figures come from the archive the tracker reads, the gateway's directory view for names, and its
view of ``bus.agreements`` (followed by the gateway, as the processor does) for agreements in force.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from bus.directory.model import Principal, Role
from bus.directory.view import AgencyDirectory
from bus.gateway.access import authenticate
from bus.gateway.errors import NotAllowed
from bus.gateway.tracker import ArchiveReader
from bus.policy.agreements_view import AgreementsView
from bus.report.period import current_quarter, parse_period
from bus.report.scorecard import Scorecard, scorecard_async
from bus.report.sources import agency_names

REPORT_READERS = frozenset({Role.AUDITOR, Role.OPERATOR})


class Reports:
    """Computes scorecards on request from the archive, the directory and the followed agreements."""

    def __init__(
        self, archive: ArchiveReader, directory: AgencyDirectory, agreements: AgreementsView
    ) -> None:
        self.archive = archive
        self.directory = directory
        self.agreements = agreements

    async def scorecard(self, principal: Principal, period: str | None) -> Scorecard:
        if principal.role not in REPORT_READERS:
            raise NotAllowed(
                f"{principal.label!r} may not read the agency scorecard",
                hint="use an auditor or the operator token",
            )
        now = dt.datetime.now(dt.UTC)
        chosen = parse_period(period) if period else current_quarter(now)
        agreements = sorted(self.agreements.active.values(), key=lambda a: a.id)
        return await scorecard_async(
            self.archive.store(), chosen, agency_names(self.directory), agreements, now=now
        )


def router(reports: Reports) -> APIRouter:
    api = APIRouter(tags=["reports"])

    @api.get("/v1/reports/agencies", response_model=Scorecard)
    async def agency_scorecard(
        request: Request,
        period: Annotated[
            str | None, Query(description="2026-Q4, 2026-11 or 2026 (default: the current quarter).")
        ] = None,
    ) -> Scorecard:
        """Per agency: traffic, data quality, latency, denials, agreements, paper avoided, freshness."""
        principal = authenticate(reports.directory, request.headers.get("authorization"), "the scorecard")
        return await reports.scorecard(principal, period)

    return api
