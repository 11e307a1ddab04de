"""The broker's ACLs follow the agreements, the directory and the calendar (issue #20).

``reconcile`` makes the cluster's ACLs on the bus's namespace equal ``rules_for`` of what is on
``bus.agreements`` and ``bus.agencies`` today, and creates each in-force agreement's delivery topic
so that its grant has something to read. ``bus agreements apply``, ``bus agencies add`` and ``bus
acl apply`` call it once; ``AclSync`` (run by ``bus up``, or ``bus acl sync``) calls it whenever
either topic changes and at each UTC midnight where an agreement starts or ends: that is what makes
an agreement's expiry take its consumer's access away without anyone running a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from bus.acl.rules import (
    ACL_SYNC,
    SERVICES,
    AclRule,
    ResourceType,
    directory_agencies,
    directory_publishers,
    in_force_on,
    rules_for,
)
from bus.directory.view import AgencyDirectory
from bus.errors import BusError
from bus.event.topics import SystemTopic, spec_for
from bus.kafka.access import broker_acls, create_acls, delete_acls
from bus.kafka.client import BROKER_UNREACHABLE, KafkaSettings, create_topics, read_to_end
from bus.kafka.follow import TopicFollower
from bus.policy.agreement import Agreement
from bus.policy.agreements_view import AgreementsView
from bus.run.backoff import Backoff, Retry, pause

log = logging.getLogger(__name__)

BUS_PREFIXES = ("ingress.", "deliver.", "state.", "dlq.", "bus.", "bus-")
"""Topic and group names the bus owns; ACLs on anything else are another application's, left alone."""
RETRIED: tuple[type[Exception], ...] = (BusError, *BROKER_UNREACHABLE)
SAFETY_INTERVAL_S = 60.0
"""Reconcile at least this often, so an ACL removed or added by hand outside the bus is put right."""


@dataclass(frozen=True)
class AclPlan:
    add: frozenset[AclRule]
    remove: frozenset[AclRule]


def plan(desired: Iterable[AclRule], actual: Iterable[AclRule]) -> AclPlan:
    """What to add and remove so the bus's part of the broker's ACLs equals ``desired``."""
    wanted, found = set(desired), {r for r in actual if managed(r)}
    return AclPlan(frozenset(wanted - found), frozenset(found - wanted))


def managed(rule: AclRule) -> bool:
    """A binding on a topic or group in the bus's namespace, or a bus service's on the cluster or on
    every name (``*``); bindings on other names are another application's, even for a bus principal."""
    if rule.resource_type is ResourceType.CLUSTER or rule.name == "*":
        return rule.principal in {s.principal for s in SERVICES}
    return rule.name.startswith(BUS_PREFIXES)


Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc_today() -> dt.date:
    return utc_now().date()


def desired_rules(
    agreements: Iterable[Agreement], directory: AgencyDirectory, today: dt.date
) -> list[AclRule]:
    """Every service's grants, the publishers' (agreement providers and agencies with a signing key)
    and the consumers' of agreements in force ``today``."""
    entries = directory.entries()
    return rules_for(
        agreements,
        sorted(directory_publishers(entries)),
        agencies=sorted(directory_agencies(entries)),
        today=today,
    )


async def applied(settings: KafkaSettings) -> tuple[list[Agreement], AgencyDirectory]:
    """The agreements not revoked on ``bus.agreements`` and the directory, read to their ends now."""
    agreements = AgreementsView()
    for record in await read_to_end(settings, SystemTopic.AGREEMENTS):
        agreements.apply(record)
    directory = AgencyDirectory()
    for record in await read_to_end(settings, SystemTopic.AGENCIES):
        directory.apply(record)
    return list(agreements.active.values()), directory


async def reconcile(settings: KafkaSettings, *, today: dt.date | None = None) -> AclPlan:
    """Read what the ACLs derive from, then apply the difference to the broker."""
    day = today or utc_today()
    agreements, directory = await applied(settings)
    return await apply_rules(settings, desired_rules(agreements, directory, day), agreements, day)


async def apply_rules(
    settings: KafkaSettings, desired: Collection[AclRule], agreements: Iterable[Agreement], today: dt.date
) -> AclPlan:
    """Delivery topics first (a grant on a missing topic reads nothing), then additions, then removals."""
    topics = sorted({a.delivery_topic for a in agreements if in_force_on(a, today)})
    if topics:
        await create_topics(settings, [spec_for(t) for t in topics])
    change = plan(desired, await broker_acls(settings))
    await create_acls(settings, change.add)
    await delete_acls(settings, change.remove)
    for verb, rules in (("added", change.add), ("removed", change.remove)):
        for rule in sorted(rules):
            log.info(
                "ACL %s: %s %s on %s %s %s",
                verb,
                rule.principal,
                rule.operation,
                rule.pattern,
                rule.resource_type,
                rule.name,
            )
    return change


class AclSync:
    """Follows ``bus.agreements`` and ``bus.agencies``; reconciles on every change, when the UTC day
    changes (validity is by day, so that is every moment an agreement starts or ends) and at least
    every ``SAFETY_INTERVAL_S``. Runs as ``bus.acl-sync``."""

    def __init__(self, settings: KafkaSettings, *, clock: Clock = utc_now) -> None:
        self.settings = settings.acting_as(ACL_SYNC.user)
        self._clock = clock
        self.agreements = AgreementsView()
        self.directory = AgencyDirectory()
        self._followers = [
            TopicFollower(self.settings, SystemTopic.AGREEMENTS, self.agreements.apply),
            self.directory.follower(self.settings),
        ]
        self._seen: tuple[int, int, dt.date] | None = None
        self.last: AclPlan | None = None

    async def start(self) -> None:
        for follower in self._followers:
            await follower.start()

    async def stop(self) -> None:
        for follower in self._followers:
            await follower.stop()

    async def run(self, stop: asyncio.Event) -> None:
        retry = Retry(Backoff(first_s=0.5, cap_s=30.0))
        last_full = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            now = self._clock()
            state = (self.agreements.version, self.directory.version, now.date())
            if state != self._seen or loop.time() - last_full >= SAFETY_INTERVAL_S:
                try:
                    active = list(self.agreements.active.values())
                    desired = desired_rules(active, self.directory, now.date())
                    self.last = await apply_rules(self.settings, desired, active, now.date())
                except RETRIED as exc:  # broker away or refusing: retried, never fatal
                    delay = retry.failed()
                    log.warning("ACL sync failed (%s); retrying in %.1f s", exc, delay)
                    await pause(delay, stop)
                    continue
                retry.succeeded()
                self._seen, last_full = state, loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
