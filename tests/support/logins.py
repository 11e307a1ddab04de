"""Agencies' own broker logins, as ``bus agencies add`` issues them, and test-only grants."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.acl.rules import AclRule, Operation, PatternType, ResourceType
from bus.acl.sync import reconcile
from bus.broker.engine import LocalBroker
from bus.broker.kafka.cluster import KafkaCluster
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import new_token
from bus.event.signing import key_id_for, public_key_text
from bus.kafka.access import create_acls, upsert_users
from bus.kafka.client import KafkaSettings


async def agency_login(settings: KafkaSettings, agency: str) -> KafkaSettings:
    """The broker as ``agency`` logs in to it: a new SCRAM user, and the ACLs its directory entry and the
    agreements imply. Where the broker authenticates nobody (tansu), the suite's own settings."""
    if not settings.authenticates:
        return settings
    password = new_token()
    await upsert_users(settings, {agency: password})
    await reconcile(settings)
    return settings.logged_in(agency, password)


async def provider_login(settings: KafkaSettings, agency: str, key: Ed25519PrivateKey) -> KafkaSettings:
    """A providing agency as ``bus agencies add`` and ``keygen`` make one: its directory entry with the
    public half of ``key`` (which lets it publish), then its own login."""
    public = key.public_key()
    entry = AgencyEntry(
        id=agency, name=f"{agency} (provider)", public_keys={key_id_for(public): public_key_text(public)}
    )
    await put_agency(settings, entry)
    return await agency_login(settings, agency)


def admin_settings(broker: LocalBroker) -> KafkaSettings | None:
    """The broker's super user, for arranging what a test needs beyond production grants (None: tansu)."""
    return broker.admin_settings() if isinstance(broker, KafkaCluster) else None


async def grant(admin: KafkaSettings | None, *rules: AclRule) -> None:
    """Give a component a test's own scratch topic or group beyond its production grant; a no-op where
    the broker enforces nothing (tansu)."""
    if admin is not None:
        await create_acls(admin, rules)


def may(principal: str, operation: Operation, topic: str) -> AclRule:
    """A literal topic grant: ``principal`` may do ``operation`` on ``topic``."""
    return AclRule(principal, ResourceType.TOPIC, PatternType.LITERAL, topic, operation)


def settings_env(settings: KafkaSettings) -> dict[str, str]:
    """The ``BUS_*`` variables that give a child process the same broker and login (e.g. an agency's)."""
    env = {"BUS_BOOTSTRAP": settings.bootstrap, "BUS_BROKER_PROFILE": settings.broker_profile.value}
    if settings.keyring is not None:
        env["BUS_KEYRING"] = str(settings.keyring)
    if settings.sasl_mechanism and settings.sasl_username and settings.sasl_password:
        env |= {
            "BUS_SECURITY_PROTOCOL": settings.security_protocol,
            "BUS_SASL_MECHANISM": settings.sasl_mechanism,
            "BUS_SASL_USERNAME": settings.sasl_username,
            "BUS_SASL_PASSWORD": settings.sasl_password.get_secret_value(),
        }
    return env
