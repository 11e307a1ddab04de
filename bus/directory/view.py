"""The directory as an in-memory view of ``bus.agencies``, and token authentication."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bus.directory.model import AgencyEntry, Principal, Role
from bus.directory.tokens import credentials_from_header, hash_token, token_matches
from bus.event.signing import public_key_from_text
from bus.event.topics import SystemTopic
from bus.ids import AgencyId
from bus.kafka.client import read_to_end
from bus.kafka.follow import TopicFollower

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from bus.kafka.client import KafkaSettings

log = logging.getLogger(__name__)


class AgencyDirectory:
    """Latest entry per agency id; answers "which principal holds this token?"."""

    def __init__(self, operator_token: str | None = None) -> None:
        self._entries: dict[str, AgencyEntry] = {}
        self._by_token_hash: dict[str, str] = {}
        self._operator_hash = hash_token(operator_token) if operator_token else None
        self._keys: dict[tuple[str, str, str], Ed25519PublicKey] = {}
        self.version = 0  # bumps on every record, so followers of the view know when to look again

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Reduce one ``bus.agencies`` record (latest per key wins; tombstone removes)."""
        self.version += 1
        key = record.key.decode() if record.key else ""
        previous = self._entries.pop(key, None)
        if previous is not None:
            for token_hash in previous.token_hashes:
                self._by_token_hash.pop(token_hash, None)
        if record.value is None:
            return
        try:
            entry = AgencyEntry.model_validate(json.loads(record.value))
        except (ValueError, ValidationError):
            log.warning("ignoring malformed bus.agencies record at offset %s", record.offset)
            return
        self._entries[key] = entry
        for token_hash in entry.token_hashes:
            self._by_token_hash[token_hash] = key

    def get(self, agency_id: str) -> AgencyEntry | None:
        return self._entries.get(agency_id)

    def public_key(self, identity: str, key_id: str) -> Ed25519PublicKey | None:
        """A ``KeyLookup`` over the directory: parsed once per key text, gone once the entry drops it."""
        entry = self._entries.get(identity)
        text = entry.public_keys.get(key_id) if entry else None
        if text is None:
            return None
        cache_key = (identity, key_id, text)
        if cache_key not in self._keys:
            self._keys[cache_key] = public_key_from_text(text)
        return self._keys[cache_key]

    def entries(self) -> list[AgencyEntry]:
        return sorted(self._entries.values(), key=lambda e: e.id)

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal an ``Authorization`` header proves, or None."""
        credentials = credentials_from_header(authorization)
        if credentials is None:
            return None
        user, token = credentials
        if self._operator_hash and token_matches(token, self._operator_hash):
            return Principal(Role.OPERATOR)
        agency_id = self._by_token_hash.get(hash_token(token))
        if agency_id is None or (user is not None and user != agency_id):
            return None
        entry = self._entries[agency_id]
        return Principal(entry.role, AgencyId(agency_id))

    def follower(self, settings: KafkaSettings) -> TopicFollower:
        return TopicFollower(settings, SystemTopic.AGENCIES, self.apply)


async def current_directory(settings: KafkaSettings) -> AgencyDirectory:
    """The directory as it stands now, read once to the end of ``bus.agencies`` (CLI commands)."""
    directory = AgencyDirectory()
    for record in await read_to_end(settings, SystemTopic.AGENCIES):
        directory.apply(record)
    return directory
