"""The registry's state as a pure reduction of the ``bus.schemas`` log.

Every instance applies the same single-partition log in the same order, so all agree.
Concurrent writers are settled by the log itself: a SCHEMA record is a *claim* on
(subject, version) and on (schema id ↔ fingerprint); the first claim in log order wins
and later conflicting claims are ignored (their writer tombstones them). No leader, no
extra coordination, and ids never change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from bus.registry.compat import CompatibilityLevel

DEFAULT_LEVEL = CompatibilityLevel.BACKWARD


def fingerprint_of(text: str) -> str:
    """Identity of a normalized schema text (same definition as ``ParsedSchema``)."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class VersionEntry:
    subject: str
    version: int
    schema_id: int
    fingerprint: str
    text: str
    deleted: bool = False

    def key(self) -> dict[str, Any]:
        """The log key of this claim (unique per claim, so compaction never merges claims)."""
        return schema_key(self.subject, self.version, self.schema_id, self.fingerprint)

    def value(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "version": self.version,
            "id": self.schema_id,
            "schema": self.text,
            "schemaType": "AVRO",
            "deleted": self.deleted,
        }


def schema_key(subject: str, version: int, schema_id: int, fingerprint: str) -> dict[str, Any]:
    return {
        "keytype": "SCHEMA",
        "subject": subject,
        "version": version,
        "id": schema_id,
        "fingerprint": fingerprint,
        "magic": 1,
    }


def config_key(subject: str | None) -> dict[str, Any]:
    return {"keytype": "CONFIG", "subject": subject, "magic": 0}


@dataclass
class RegistryState:
    versions: dict[str, dict[int, VersionEntry]] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    id_by_fingerprint: dict[str, int] = field(default_factory=dict)
    max_id: int = 0
    global_level: CompatibilityLevel = DEFAULT_LEVEL
    subject_levels: dict[str, CompatibilityLevel] = field(default_factory=dict)

    # -- reduction -------------------------------------------------------------------
    def apply(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        """Apply one log record; unknown or malformed records are ignored."""
        keytype = key.get("keytype")
        if keytype == "SCHEMA":
            self._apply_schema(key, value)
        elif keytype == "CONFIG":
            subject = key.get("subject")
            level = (value or {}).get("compatibilityLevel")
            if value is None and subject:
                self.subject_levels.pop(subject, None)
            elif isinstance(level, str) and level in CompatibilityLevel._value2member_map_:
                if subject:
                    self.subject_levels[subject] = CompatibilityLevel(level)
                else:
                    self.global_level = CompatibilityLevel(level)

    def _apply_schema(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        subject, version = key.get("subject"), key.get("version")
        schema_id, fingerprint = key.get("id"), key.get("fingerprint")
        if not isinstance(subject, str) or not isinstance(version, int) or not isinstance(schema_id, int):
            return
        current = self.versions.get(subject, {}).get(version)
        is_this_claim = current is not None and (current.schema_id, current.fingerprint) == (
            schema_id,
            fingerprint,
        )
        if value is None:
            if is_this_claim:
                del self.versions[subject][version]
                self._forget_unreferenced(schema_id)
            return
        text = value.get("schema")
        if not isinstance(text, str) or fingerprint_of(text) != fingerprint:
            return
        self.max_id = max(self.max_id, schema_id)
        deleted = bool(value.get("deleted", False))
        if current is not None:
            if is_this_claim:
                self.versions[subject][version] = replace(current, deleted=deleted)
            return  # a later, conflicting claim on this subject version: it lost
        if (
            self.texts.get(schema_id, text) != text
            or self.id_by_fingerprint.get(fingerprint, schema_id) != schema_id
        ):
            return  # the id or the schema is already bound differently: it lost
        if any(
            v.fingerprint == fingerprint and not v.deleted for v in self.versions.get(subject, {}).values()
        ):
            return  # the subject already has this schema as a live version
        self.versions.setdefault(subject, {})[version] = VersionEntry(
            subject, version, schema_id, fingerprint, text, deleted
        )
        self.texts[schema_id] = text
        self.id_by_fingerprint[fingerprint] = schema_id

    def _forget_unreferenced(self, schema_id: int) -> None:
        if any(v.schema_id == schema_id for vs in self.versions.values() for v in vs.values()):
            return
        text = self.texts.pop(schema_id, None)
        if text is not None:
            self.id_by_fingerprint.pop(fingerprint_of(text), None)

    # -- queries ---------------------------------------------------------------------
    def subjects(self, *, include_deleted: bool = False) -> list[str]:
        return sorted(
            s
            for s, vs in self.versions.items()
            if vs and (include_deleted or any(not v.deleted for v in vs.values()))
        )

    def subject_versions(self, subject: str, *, include_deleted: bool = False) -> list[VersionEntry]:
        return [
            v for _, v in sorted(self.versions.get(subject, {}).items()) if include_deleted or not v.deleted
        ]

    def level_for(self, subject: str) -> CompatibilityLevel:
        return self.subject_levels.get(subject, self.global_level)

    def next_version(self, subject: str) -> int:
        return max(self.versions.get(subject, {}), default=0) + 1

    def id_for(self, fingerprint: str) -> int:
        """The id a schema has, or the next free one (ids are never reused)."""
        return self.id_by_fingerprint.get(fingerprint, self.max_id + 1)
