"""``GET /v1/catalogue`` and ``GET /v1/agencies/{id}/asyncapi.yaml``: what data exists, how to get it.

Both are built per request from the registry and the gateway's followed views of ``bus.agreements``
and ``bus.agencies``, so they follow an applied agreement as soon as the gateway has read it. Any
authenticated caller may read them: agreements are public (every agency may read ``bus.agreements``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bus.catalogue.asyncapi import Server, to_yaml
from bus.catalogue.model import Catalogue
from bus.catalogue.source import agency_asyncapi, current_catalogue
from bus.directory.view import AgencyDirectory
from bus.gateway.access import authenticate
from bus.policy.agreements_view import AgreementsView
from bus.registry.client import RegistryClient
from bus.report.sources import agency_names


class CatalogueDesk:
    """Answers catalogue and AsyncAPI requests from the registry and the gateway's views."""

    def __init__(
        self,
        registry: RegistryClient,
        agreements: AgreementsView,
        directory: AgencyDirectory,
        server: Server,
    ) -> None:
        self.registry = registry
        self.agreements = agreements
        self.directory = directory
        self.server = server

    async def catalogue(self) -> Catalogue:
        names = agency_names(self.directory)
        return await current_catalogue(self.registry, self.agreements.active.values(), names.get)

    async def asyncapi_yaml(self, agency: str) -> str:
        document = await agency_asyncapi(
            self.registry, self.agreements.active.values(), self.directory, agency, self.server
        )
        return to_yaml(document)


def router(desk: CatalogueDesk) -> APIRouter:
    api = APIRouter(tags=["catalogue"])

    @api.get("/v1/catalogue", response_model=Catalogue)
    async def catalogue(request: Request) -> Catalogue:
        """Every record type (fields, docs, provider, schema version, compatibility) and its agreements."""
        authenticate(desk.directory, request.headers.get("authorization"), "the catalogue")
        return await desk.catalogue()

    @api.get(
        "/v1/agencies/{agency}/asyncapi.yaml",
        response_class=Response,
        responses={200: {"content": {"application/yaml": {}}}},
    )
    async def asyncapi(request: Request, agency: str) -> Response:
        """AsyncAPI 3.0: the channels the agency's ACLs allow, with Avro payloads, headers and bindings."""
        authenticate(desk.directory, request.headers.get("authorization"), "an agency's AsyncAPI document")
        body = await desk.asyncapi_yaml(agency)
        return Response(body, media_type="application/yaml", headers={"Cache-Control": "no-store"})

    return api
