"""What the directory knows about an agency, and who a caller turned out to be."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bus.ids import AgencyId

PROCESSOR_IDENTITY: Final = "bus.processor"
"""The directory identity whose keys sign every delivery (DESIGN §3); never an agency id (it has a dot)."""
WEBHOOKS_IDENTITY: Final = "bus.webhooks"
"""The webhook dispatcher's identity: its keys sign the receipts of what a receiver accepted."""
SERVICE_NAMES: Final = {
    PROCESSOR_IDENTITY: "agency-bus processor (signs deliveries)",
    WEBHOOKS_IDENTITY: "agency-bus webhook dispatcher (signs webhook receipts)",
}


class Role(StrEnum):
    """DESIGN §5a: what a token may do."""

    AGENCY = "agency"
    PORTAL = "portal"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    SERVICE = "service"  # a bus service that signs (bus.processor, bus.webhooks): public keys only


class WebhookEntry(BaseModel):
    """Where the webhook dispatcher POSTs an agency's deliveries (``bus webhooks add``).

    The secret must be readable by the dispatcher to sign (HMAC), so it cannot be hashed like
    tokens; ``bus.agencies`` is readable only by bus components (docs/webhooks.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://[^\s/]+\S*$", max_length=2000)
    secret: str = Field(pattern=r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$", repr=False)
    horizon_s: float | None = Field(default=None, gt=0)


class AgencyEntry(BaseModel):
    """One value on ``bus.agencies`` (key = agency id); a tombstone removes the agency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^(?:[a-z0-9]+(?:-[a-z0-9]+)*|bus\.processor|bus\.webhooks)$", max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.AGENCY
    token_hashes: tuple[str, ...] = ()
    public_keys: dict[str, str] = Field(default_factory=dict)
    webhook: WebhookEntry | None = None

    @model_validator(mode="after")
    def _services_hold_keys_only(self) -> Self:
        """A service's entry publishes its signing keys and nothing else: no login, no webhook."""
        if (self.id in SERVICE_NAMES) != (self.role is Role.SERVICE):
            raise ValueError(f"exactly the entries {', '.join(SERVICE_NAMES)} have role 'service'")
        if self.role is Role.SERVICE and (self.token_hashes or self.webhook):
            raise ValueError(f"service entry {self.id!r} holds public keys only: no tokens, no webhook")
        return self


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the operator, or a directory entry acting in its role."""

    role: Role
    agency: AgencyId | None = None

    @property
    def label(self) -> str:
        return self.agency or self.role.value
