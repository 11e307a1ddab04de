"""The gateway's FastAPI app: routers plus one error handler for every ``BusError``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import FastAPI

from bus.directory.view import AgencyDirectory
from bus.errors import BusError
from bus.gateway import catalogue, catalogue_page, consent_api, page, reports, tracker, wallet
from bus.gateway.catalogue import CatalogueDesk
from bus.gateway.consent_api import ConsentDesk
from bus.gateway.errors import PayloadTooLarge, bus_error_handler, error_body
from bus.gateway.ingest import Ingestor, router
from bus.gateway.ratelimit import RateLimiter
from bus.gateway.tracker import Tracker
from bus.http.limits import BodySizeLimit
from bus.http.ops import Check, ops_routes


def _render(error: BusError) -> tuple[bytes, str]:
    return json.dumps(error_body(error)).encode(), "application/json"


def create_app(
    ingestor: Ingestor,
    directory: AgencyDirectory,
    *,
    max_body_bytes: int = 4 << 20,
    tracker_api: Tracker | None = None,
    consent_desk: ConsentDesk | None = None,
    checks: Mapping[str, Check] | None = None,
    reports_api: reports.Reports | None = None,
    wallet_api: wallet.Wallet | None = None,
    limiter: RateLimiter | None = None,
    catalogue_desk: CatalogueDesk | None = None,
) -> FastAPI:
    """Ingestion always; the tracker, consent, catalogue APIs and pages when their services are given."""
    app = FastAPI(
        title="agency-bus gateway",
        description="Ingestion for systems without the SDK; the citizen data tracker and consent wallet.",
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=max_body_bytes,
        error=lambda message: PayloadTooLarge(message, hint="send at most 1,000 records per batch"),
        render=_render,
    )
    app.add_exception_handler(BusError, bus_error_handler)
    app.include_router(router(ingestor, directory, limiter))
    if tracker_api is not None:
        app.include_router(tracker.router(tracker_api))
    if consent_desk is not None:
        app.include_router(consent_api.router(consent_desk))
    if tracker_api is not None and consent_desk is not None:
        app.include_router(page.router(page.PageView(tracker_api, consent_desk)))
    if reports_api is not None:
        app.include_router(reports.router(reports_api))
    if wallet_api is not None:
        app.include_router(wallet.router(wallet_api))
    if catalogue_desk is not None:
        app.include_router(catalogue.router(catalogue_desk))
        app.include_router(catalogue_page.router(catalogue_desk))

    app.router.routes.extend(ops_routes(checks or {}))
    return app
