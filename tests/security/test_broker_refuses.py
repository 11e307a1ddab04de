"""The broker itself refuses what no grant allows: plain Kafka clients attack with real logins (#20)."""

from __future__ import annotations

import pytest

from bus.acl.rules import SERVICES
from tests.security import probes
from tests.security.conftest import PROVIDER, A, B, Secured, client_config, deliver

INGRESS = f"ingress.{PROVIDER}.person"


async def test_an_agency_reads_its_own_deliveries_with_its_own_group(secured: Secured) -> None:
    # given agency A with an agreement in force / when it reads its delivery topic in its SDK's group
    answer = probes.consume(secured.login(A), deliver(A), f"bus-sub.{A}.{PROVIDER}-to-{A}")
    # then it gets the record
    assert answer == "record"


@pytest.mark.parametrize(
    "topic", [deliver(B), "bus.agencies", "bus.audit", f"state.{PROVIDER}.person", f"dlq.{PROVIDER}", INGRESS]
)
async def test_an_agency_reads_nothing_it_was_not_given(secured: Secured, topic: str) -> None:
    # given agency A's login / when it fetches another agency's deliveries, a bus topic or the provider's data
    answer = await probes.read(secured.login(A), topic)
    # then the broker refuses
    assert answer == probes.DENIED


@pytest.mark.parametrize(
    "topic", [f"ingress.{B}.person", INGRESS, deliver(A), "bus.agreements", "bus.consent"]
)
async def test_an_agency_writes_nothing_but_its_own_ingress(secured: Secured, topic: str) -> None:
    # given consumer agency A / when it forges a record onto a topic it may not write, its own delivery
    # topic included / then the broker refuses it
    assert probes.write(secured.login(A), topic) == probes.DENIED


async def test_a_provider_writes_its_own_ingress_and_not_a_delivery_topic(secured: Secured) -> None:
    provider = secured.login(PROVIDER)
    assert probes.write(provider, INGRESS, b"provider's own change") == "ok"
    assert probes.write(provider, deliver(A)) == probes.DENIED


async def test_an_agency_creates_no_topic_changes_no_config_and_grants_itself_nothing(
    secured: Secured,
) -> None:
    login = secured.login(A)
    assert probes.create_topic(login, f"deliver.{A}.made-up") == probes.DENIED
    assert probes.alter_config(login, deliver(A)) == probes.DENIED
    assert probes.create_acl(login, f"User:{A}", deliver(B)) == "CLUSTER_AUTHORIZATION_FAILED"


@pytest.mark.parametrize(
    ("user", "password"),
    [(A, "not-the-password"), ("no-such-agency", "whatever"), ("bus.admin", "guessed")],
    ids=["wrong-password", "unknown-user", "super-user-guess"],
)
async def test_a_bad_login_is_refused_at_connect(secured: Secured, user: str, password: str) -> None:
    # given a SCRAM login that does not match / when the client asks for metadata
    answer, errors = probes.connect(client_config(secured.cluster.bootstrap, user, password))
    # then it never gets any, and librdkafka reports an authentication failure
    assert answer != "ok"
    assert "_AUTHENTICATION" in errors


async def test_a_client_without_sasl_is_refused_at_connect(secured: Secured) -> None:
    answer, _ = probes.connect({"bootstrap.servers": secured.cluster.bootstrap})
    assert answer != "ok"


# One thing each service's code never does, beside one thing it does: the refusal is the grant's edge,
# not a broken login.
JUST_OUTSIDE = {
    "bus.processor": (("read", INGRESS), ("write", f"dlq.webhook.{A}")),
    "bus.registry": (("read", "bus.schemas"), ("write", "bus.agencies")),
    "bus.gateway": (("write", INGRESS), ("read", INGRESS)),
    "bus.webhooks": (("read", deliver(A)), ("write", deliver(A))),
    "bus.audit-archiver": (("read", "bus.audit"), ("write", "bus.audit")),
    "bus.wallet": (("read", "bus.consent"), ("read", deliver(A))),
    "bus.audit-verify": (("read", "bus.audit.checkpoints"), ("write", "bus.audit.checkpoints")),
    "bus.scorecard": (("read", "bus.agreements"), ("write", "bus.agreements")),
    "bus.acl-sync": (("read", "bus.agreements"), ("read", deliver(A))),
    "bus.operator": (("read", "bus.audit"), ("delete", f"state.{PROVIDER}.person")),
}


def test_every_service_has_an_edge_case() -> None:
    assert set(JUST_OUTSIDE) == {s.user for s in SERVICES}


@pytest.mark.parametrize("user", sorted(JUST_OUTSIDE))
async def test_each_service_is_refused_one_step_outside_its_grant(secured: Secured, user: str) -> None:
    # given a bus service's own login
    login = secured.service(user)
    inside, outside = JUST_OUTSIDE[user]
    # when it does what its code does, then one thing its code never does
    # then the first works and the broker refuses the second
    assert await _attempt(login, *inside) in ("ok", "record")
    assert await _attempt(login, *outside) == probes.DENIED


async def _attempt(login: probes.Config, action: str, topic: str) -> str:
    if action == "read":
        return await probes.read(login, topic)
    if action == "write":
        return probes.write(login, topic, b"service probe")
    assert action == "delete"
    return probes.delete_topic(login, topic)
