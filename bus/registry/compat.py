"""Compatibility levels and checks between a new schema and a subject's earlier versions (pure).

Schema resolution is the ``avro`` package's ``ReaderWriterCompatibilityChecker`` (a port of
Java's ``SchemaCompatibility``); this module only decides which pairs to check:

* BACKWARD: the new schema (reader) reads data written with a previous version (writer);
* FORWARD: a previous version (reader) reads data written with the new schema (writer);
* FULL: both;
* the plain levels check the latest non-deleted version, the ``_TRANSITIVE`` ones all of them;
* NONE checks nothing.

avro's result keeps the incompatibility types, messages and locations as three separate,
unordered collections, so a message lists them side by side rather than pairwise. A location
is a path in the reader schema, e.g. ``/fields/1/type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
)
from avro.errors import AvroException
from avro.schema import Schema as AvroSchema

from bus.registry.errors import InvalidCompatibilityLevel
from bus.registry.schema_text import ParsedSchema


class CompatibilityLevel(StrEnum):
    """Confluent's compatibility levels, spelled as Confluent's API spells them."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        """Checks every previous version, not only the latest."""
        return self.name.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        """The new schema must read data written with previous versions."""
        return self.name.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        """Previous versions must read data written with the new schema."""
        return self.name.startswith(("FORWARD", "FULL"))


def parse_level(value: str) -> CompatibilityLevel:
    """The level named by ``value``, in any case; anything else raises ``InvalidCompatibilityLevel``."""
    if isinstance(value, str):
        try:
            return CompatibilityLevel(value.strip().upper())
        except ValueError:
            pass
    valid = ", ".join(level.value for level in CompatibilityLevel)
    raise InvalidCompatibilityLevel(
        f"compatibility level {value!r} is not valid; valid levels are {valid}",
        hint='send e.g. {"compatibility": "BACKWARD"}',
    )


def check_compatibility(
    level: CompatibilityLevel,
    new: ParsedSchema,
    previous: Sequence[tuple[int, ParsedSchema]],
) -> list[str]:
    """Why ``new`` breaks ``level`` against ``previous``; ``[]`` when it is compatible.

    ``previous`` is the subject's non-deleted versions as ``(version, schema)``, oldest first.
    Each message names the version it conflicts with and the direction that fails.
    """
    if level is CompatibilityLevel.NONE or not previous:
        return []
    targets = previous if level.transitive else previous[-1:]
    problems: list[str] = []
    for version, old in targets:
        if level.backward:
            problem = _check(
                reader=new.avro,
                writer=old.avro,
                direction=f"new schema cannot read data written with version {version}",
                reader_name="the new schema",
            )
            if problem is not None:
                problems.append(problem)
        if level.forward:
            problem = _check(
                reader=old.avro,
                writer=new.avro,
                direction=f"version {version} cannot read data written with the new schema",
                reader_name=f"version {version}",
            )
            if problem is not None:
                problems.append(problem)
    return problems


def _check(*, reader: AvroSchema, writer: AvroSchema, direction: str, reader_name: str) -> str | None:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    try:
        result: SchemaCompatibilityResult = checker.get_compatibility(reader, writer)
    except (AvroException, RecursionError) as exc:  # e.g. avro cannot compare two "error" records
        return f"{direction}: the avro checker failed ({type(exc).__name__}: {exc}), so it is not compatible"
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return None
    kinds = ", ".join(dict.fromkeys(kind.value for kind in result.incompatibilities))
    messages = "; ".join(sorted(result.messages))
    # avro adds the root "/" to the locations of a record with a compatible and an incompatible field
    locations = sorted(result.locations - {"/"}) or ["/"]
    return f"{direction}: {kinds}: {messages} (at {', '.join(locations)} in {reader_name})"
