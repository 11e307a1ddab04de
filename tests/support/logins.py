"""Agencies' own broker logins, as ``bus agencies add`` issues them, and test-only grants."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.acl.rules import AclRule, Operation, PatternType, ResourceType, in_force_on, rules_for
from bus.acl.sync import utc_today
from bus.broker.engine import LocalBroker
from bus.broker.kafka.cluster import KafkaCluster
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import new_token
from bus.event.signing import key_id_for, public_key_text
from bus.event.topics import spec_for
from bus.kafka.access import broker_acls, create_acls, upsert_users
from bus.kafka.client import KafkaSettings, create_topics
from bus.policy.agreement import Agreement
from tests.support.eventually import eventually


async def agency_login(settings: KafkaSettings, agency: str, *, publishes: bool = False) -> KafkaSettings:
    """The broker as ``agency`` logs in to it: a new SCRAM user, with what ``bus acl apply`` would grant
    it (``publishes``: it has a signing key). Where the broker authenticates nobody (tansu), the suite's
    own settings."""
    if not settings.authenticates:
        return settings
    password = new_token()
    await upsert_users(settings, {agency: password})
    await grant_for(settings, publishers=[agency] if publishes else [], agencies=[agency])
    return settings.logged_in(agency, password)


async def grant_for(
    settings: KafkaSettings,
    agreements: Iterable[Agreement] = (),
    *,
    publishers: Iterable[str] = (),
    agencies: Iterable[str] = (),
) -> None:
    """Add at once the grants ``bus acl apply`` would give for these agreements and agencies, and their
    delivery topics. A full reconcile reads every agreement and agency on the broker (~0.5 s late in a
    session, three times a test); the real path is specified by tests/security and the CLI specs."""
    if not settings.authenticates:
        return
    today = utc_today()
    agreements = list(agreements)
    topics = [spec_for(a.delivery_topic) for a in agreements if in_force_on(a, today)]
    if topics:
        await create_topics(settings, topics)
    services = set(rules_for([]))
    wanted = rules_for(agreements, publishers, agencies=agencies, today=today)
    await grant(settings, *[rule for rule in wanted if rule not in services])


async def provider_login(settings: KafkaSettings, agency: str, key: Ed25519PrivateKey) -> KafkaSettings:
    """A providing agency as ``bus agencies add`` and ``keygen`` make one: its directory entry with the
    public half of ``key`` (which lets it publish), then its own login."""
    public = key.public_key()
    entry = AgencyEntry(
        id=agency, name=f"{agency} (provider)", public_keys={key_id_for(public): public_key_text(public)}
    )
    await put_agency(settings, entry)
    return await agency_login(settings, agency, publishes=True)


def admin_settings(broker: LocalBroker) -> KafkaSettings | None:
    """The broker's super user, for arranging what a test needs beyond production grants (None: tansu)."""
    return broker.admin_settings() if isinstance(broker, KafkaCluster) else None


async def grant(admin: KafkaSettings | None, *rules: AclRule) -> None:
    """Create ``rules`` as ``admin`` (the super user or the operator), e.g. a test's own scratch topic,
    and wait until the node answering describes them: a node applies a new ACL with the metadata log a
    moment after it is created, and the first use could otherwise be refused; a no-op where the broker
    enforces nothing (tansu)."""
    if admin is not None:
        await create_acls(admin, rules)
        await eventually(lambda: _described(admin, rules), timeout_s=15)


async def _described(admin: KafkaSettings, rules: Iterable[AclRule]) -> bool:
    return set(rules) <= await broker_acls(admin)


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
