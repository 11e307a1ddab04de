"""Who may change which subject (DESIGN §5a): reads are open, writes are owned."""

from __future__ import annotations

from bus.directory.model import Principal, Role
from bus.registry.errors import Forbidden, Unauthorized

SUBJECT_SUFFIXES = ("-value", "-key")


def subject_owner(subject: str) -> str | None:
    """The agency whose ingress topic a subject names (``ingress.<agency>.<type>-value``)."""
    for suffix in SUBJECT_SUFFIXES:
        if subject.endswith(suffix):
            parts = subject.removesuffix(suffix).split(".")
            if len(parts) == 3 and parts[0] == "ingress":
                return parts[1]
    return None


def require_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized(
            "this request changes the registry and needs a valid token",
            hint="send 'Authorization: Bearer <token>' or HTTP Basic with your agency id and token "
            "(Confluent clients: basic.auth.user.info=<agency>:<token>)",
        )
    return principal


def require_subject_write(principal: Principal | None, subject: str) -> Principal:
    """Operators write any subject; an agency writes only its own ingress subjects."""
    who = require_principal(principal)
    if who.role is Role.OPERATOR:
        return who
    owner = subject_owner(subject)
    if who.role is Role.AGENCY and owner is not None and owner == who.agency:
        return who
    raise Forbidden(
        f"agency {who.label!r} may not change subject {subject!r}",
        hint=f"an agency writes only ingress.{who.label}.<type>-value; deliver.* subjects are "
        "written by the bus itself",
    )


def require_operator(principal: Principal | None, what: str) -> Principal:
    who = require_principal(principal)
    if who.role is not Role.OPERATOR:
        raise Forbidden(f"{who.label!r} may not {what}", hint="only the operator token may do this")
    return who
