"""ACL bindings and SCRAM users on the broker, through librdkafka's admin API.

aiokafka (the bus's data-path client) has no CreateAcls, DescribeAcls, DeleteAcls or
AlterUserScramCredentials; ``confluent_kafka``'s AdminClient has all four, so this one module
uses it. Its futures are awaited without blocking the event loop, and its errors become bus
errors here and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from bus.acl.rules import CLUSTER_NAME, AclRule, Operation, PatternType, Permission
from bus.acl.rules import ResourceType as Resource
from bus.errors import AccessDeniedError, BrokerError, BusError
from bus.kafka.client import KafkaSettings, librdkafka_config

__all__ = ["broker_acls", "create_acls", "delete_acls", "delete_users", "scram_users", "upsert_users"]

T = TypeVar("T")
SCRAM_ITERATIONS = 8192
_TIMEOUT_S = 15.0
_RESOURCES = {
    Resource.TOPIC: ResourceType.TOPIC,
    Resource.GROUP: ResourceType.GROUP,
    Resource.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID,
}
_RESOURCES_BACK = {v: k for k, v in _RESOURCES.items()} | {ResourceType.BROKER: Resource.CLUSTER}
_PATTERNS = {
    PatternType.LITERAL: ResourcePatternType.LITERAL,
    PatternType.PREFIXED: ResourcePatternType.PREFIXED,
}
_PATTERNS_BACK = {v: k for k, v in _PATTERNS.items()}
_PERMISSIONS = {Permission.ALLOW: AclPermissionType.ALLOW, Permission.DENY: AclPermissionType.DENY}
_PERMISSIONS_BACK = {v: k for k, v in _PERMISSIONS.items()}


def _admin(settings: KafkaSettings) -> AdminClient:
    return AdminClient(librdkafka_config(settings))


async def _result(future: Future[T], settings: KafkaSettings, doing: str) -> T:
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), _TIMEOUT_S)
    except KafkaException as exc:
        raise as_bus_error(exc, settings, doing) from None
    except TimeoutError:
        raise BrokerError(
            f"{doing} on {settings.bootstrap} got no answer within {_TIMEOUT_S:.0f} s",
            hint="check that the cluster is up and that the SASL user and password are right",
        ) from None


def as_bus_error(exc: KafkaException, settings: KafkaSettings, doing: str) -> BusError:
    """A librdkafka admin error as a bus error naming the login and what it tried (the one place)."""
    error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    who = settings.sasl_username or "an anonymous client"
    if error is not None and error.code() in (
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.SASL_AUTHENTICATION_FAILED,
    ):
        return AccessDeniedError(
            f"{who} may not do this on {settings.bootstrap}: {doing} ({error.str()})",
            hint="ACLs and SCRAM users are managed by the operator (bus.operator) or bus.acl-sync; "
            "check BUS_SASL_USERNAME / the keyring",
        )
    return BrokerError(
        f"{doing} failed on {settings.bootstrap}: {error.str() if error else exc}",
        hint="see the broker logs; it can be retried when the cause is fixed",
        retriable=bool(error and error.retriable()),
    )


# --- SCRAM users ------------------------------------------------------------------------------


async def upsert_users(settings: KafkaSettings, passwords: Mapping[str, str]) -> None:
    """Create or replace the SCRAM-SHA-512 credential of each user (takes effect at its next login)."""
    if not passwords:
        return
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    changes: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(user, info, pw.encode()) for user, pw in sorted(passwords.items())
    ]
    admin = _admin(settings)  # held until every future is done: librdkafka cancels them when it goes
    for user, future in admin.alter_user_scram_credentials(changes).items():
        await _result(future, settings, f"setting the SCRAM password of {user!r}")


async def delete_users(settings: KafkaSettings, users: Iterable[str]) -> None:
    """Remove SCRAM credentials: the users can no longer log in (open connections stay until they end)."""
    changes: list[UserScramCredentialAlteration] = [
        UserScramCredentialDeletion(u, ScramMechanism.SCRAM_SHA_512) for u in sorted(users)
    ]
    if not changes:
        return
    admin = _admin(settings)
    for user, future in admin.alter_user_scram_credentials(changes).items():
        await _result(future, settings, f"deleting the SCRAM user {user!r}")


async def scram_users(settings: KafkaSettings) -> set[str]:
    """Every user with a SCRAM credential on the cluster."""
    admin = _admin(settings)
    future: Any = admin.describe_user_scram_credentials()
    described = await _result(future, settings, "listing SCRAM users")
    return set(described)


# --- ACLs ---------------------------------------------------------------------------------------


def _binding(rule: AclRule) -> AclBinding:
    if rule.resource_type is Resource.CLUSTER:
        rtype, name, pattern = ResourceType.BROKER, CLUSTER_NAME, ResourcePatternType.LITERAL
    else:
        rtype, name, pattern = _RESOURCES[rule.resource_type], rule.name, _PATTERNS[rule.pattern]
    return AclBinding(
        rtype,
        name,
        pattern,
        rule.principal,
        "*",
        AclOperation[Operation(rule.operation).name],
        _PERMISSIONS[rule.permission],
    )


def _rule(binding: AclBinding) -> AclRule | None:
    """A broker binding as a rule; ``None`` for what the bus never writes (hosts, other resources)."""
    restype, pattern_type = binding.restype, binding.resource_pattern_type
    operation, permission = binding.operation, binding.permission_type
    if not (
        isinstance(restype, ResourceType)
        and isinstance(pattern_type, ResourcePatternType)
        and isinstance(operation, AclOperation)
        and isinstance(permission, AclPermissionType)
    ):
        return None  # librdkafka gives enums; the constructor's other accepted forms never come back
    resource, pattern = _RESOURCES_BACK.get(restype), _PATTERNS_BACK.get(pattern_type)
    if (
        resource is None
        or pattern is None
        or binding.host != "*"
        or operation.name not in Operation.__members__
    ):
        return None
    return AclRule(
        binding.principal,
        resource,
        pattern,
        binding.name,
        Operation[operation.name],
        _PERMISSIONS_BACK[permission],
    )


async def broker_acls(settings: KafkaSettings) -> set[AclRule]:
    """Every ACL binding the cluster holds (those the bus cannot express are left out)."""
    anything: Any = None  # a filter field of None matches every value (the stubs say str)
    everything = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    admin = _admin(settings)
    bindings = await _result(admin.describe_acls(everything), settings, "listing ACLs")
    return {rule for rule in map(_rule, bindings) if rule is not None}


async def create_acls(settings: KafkaSettings, rules: Collection[AclRule]) -> None:
    if not rules:
        return
    admin = _admin(settings)
    for binding, future in admin.create_acls([_binding(r) for r in sorted(rules)]).items():
        await _result(future, settings, f"adding the ACL {binding}")


async def delete_acls(settings: KafkaSettings, rules: Collection[AclRule]) -> None:
    """Delete exactly these bindings (each filter matches one binding: every field is given)."""
    if not rules:
        return
    filters = [_filter(_binding(r)) for r in sorted(rules)]
    admin = _admin(settings)
    for binding_filter, future in admin.delete_acls(filters).items():
        await _result(future, settings, f"removing the ACL {binding_filter}")


def _filter(binding: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.host,
        binding.operation,
        binding.permission_type,
    )
