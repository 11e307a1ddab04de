"""Who may read a person's tracker and consents, and who may change consent (DESIGN §5a).

| role     | tracker / consent reads                         | consent writes |
|----------|-------------------------------------------------|----------------|
| portal   | any subject (the portal authenticated the person)| any subject    |
| auditor  | everything                                      | no             |
| operator | everything                                      | any subject    |
| agency   | only entries where it is provider or consumer;  | no: an agency never speaks |
|          | only consents given to it                       | for a citizen  |
"""

from __future__ import annotations

from dataclasses import dataclass

from bus.directory.model import Principal, Role
from bus.directory.view import AgencyDirectory
from bus.gateway.errors import NotAllowed, NotAuthenticated

READ_ROLES = frozenset({Role.PORTAL, Role.AUDITOR, Role.OPERATOR, Role.AGENCY})
CONSENT_WRITERS = frozenset({Role.PORTAL, Role.OPERATOR})


@dataclass(frozen=True, slots=True)
class ReadScope:
    """What a reader may see: everything about a subject, or only lines naming ``agency``."""

    principal: Principal
    agency: str | None

    @property
    def everything(self) -> bool:
        return self.agency is None


def authenticate(directory: AgencyDirectory, authorization: str | None, doing: str) -> Principal:
    principal = directory.authenticate(authorization)
    if principal is None:
        raise NotAuthenticated(
            f"{doing} needs a bearer token",
            hint="send 'Authorization: Bearer <token>' of the citizen portal, an auditor or an agency",
        )
    return principal


def read_scope(principal: Principal) -> ReadScope:
    """Agencies are narrowed to themselves; every other role reads the whole subject."""
    if principal.role is Role.AGENCY:
        if principal.agency is None:  # an agency principal always has an id; refuse if not
            raise NotAllowed("an agency token without an agency id", hint="re-issue the agency's token")
        return ReadScope(principal, principal.agency)
    if principal.role not in READ_ROLES:
        raise NotAllowed(
            f"{principal.label!r} may not read the tracker", hint="use a portal or auditor token"
        )
    return ReadScope(principal, None)


def require_consent_writer(principal: Principal) -> None:
    if principal.role not in CONSENT_WRITERS:
        raise NotAllowed(
            f"{principal.label!r} may not grant or revoke a citizen's consent",
            hint="consent is the citizen's own decision: it is recorded only through the citizen portal "
            "(or by the operator); an agency asks the citizen instead",
        )


def require_page_reader(principal: Principal) -> None:
    if principal.role not in CONSENT_WRITERS:
        raise NotAllowed(
            f"{principal.label!r} may not open a person's tracker page",
            hint="the page is served to the citizen portal; agencies and auditors use the JSON API",
        )
