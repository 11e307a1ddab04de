"""Ed25519 event signatures, one per batch through a SHA-256 Merkle tree (DESIGN §3).

An Ed25519 check costs ~60 µs, so, as X-Road does, a publisher signs the Merkle root of a
batch of event digests once; every event carries that signature (``bus_signature``), its
inclusion proof (``bus_sig_proof``) and the key id (``bus_sig_key``). A batch of one has
an empty proof. ``Verifier`` caches roots it has checked, so a batch costs one check.

Tree (RFC 6962 domain separation): leaf = SHA-256(0x00 || digest), node = SHA-256(0x01 ||
left || right); a level with an odd count promotes its last node unchanged. A proof is
u32 BE leaf index, u32 BE leaf count, then the sibling hashes bottom-up. The signed
message is ``b"agency-bus/batch/v1" || u32 BE leaf count || root``: binding the count
makes the proof header non-malleable (otherwise e.g. leaf 0 of 5 and leaf 0 of 7 share
one proof path, so a flipped count bit would still verify).

Pure: standard library and ``cryptography`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bus.errors import BusError, ConfigError

__all__ = [
    "EventSignature",
    "KeyLookup",
    "SignatureError",
    "Verifier",
    "event_digest",
    "event_digest_of_bytes",
    "key_id_for",
    "private_key_from_pem",
    "private_key_pem",
    "public_key_from_text",
    "public_key_text",
    "sign_batch",
]

Reason = Literal["unknown_key", "bad_signature", "bad_proof", "malformed"]
KeyLookup = Callable[[str, str], Ed25519PublicKey | None]
"""(agency id, key id) -> that agency's public key, or None; rotated-out ids stay listed."""

_EVENT_TAG: Final = b"agency-bus/event/v1"
_BATCH_TAG: Final = b"agency-bus/batch/v1"
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"
_U32: Final = struct.Struct(">I")
_PROOF_HEAD: Final = struct.Struct(">II")
_MAX_COUNT: Final = 0xFFFFFFFF
_MAX_PROOF_TEXT: Final = -(-(_PROOF_HEAD.size + 32 * 32) * 4 // 3)  # 32 levels at most
_SIGNATURE_TEXT: Final = 86  # 64 bytes, base64url without padding
_URL_TO_STD: Final = bytes.maketrans(b"-_", b"+/")
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,127}")
_REGISTER_HINT: Final = (
    "check the publisher signs with a key registered for this agency in the directory "
    "(`bus agencies keygen` makes one); keep rotated-out key ids listed until their events are processed"
)


class SignatureError(BusError):
    """An event's signature headers are missing, unreadable or do not verify; see ``reason``."""

    code = "signature_invalid"

    def __init__(self, reason: Reason, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class EventSignature:
    """The three signature headers of one event."""

    signature: str  # bus_signature: base64url (no padding) of the Ed25519 signature
    proof: str  # bus_sig_proof: base64url (no padding) inclusion proof, "" for a batch of one
    key_id: str  # bus_sig_key


def event_digest(
    *,
    source: str,
    event_id: str,
    ce_type: str,
    subject: str,
    time: str,
    sequence: int | None,
    value: bytes | None,
    changed: str | None = None,
) -> bytes:
    """SHA-256 over an unambiguous encoding of what a signature covers.

    Each text field is length-prefixed UTF-8 (``time`` is the ``ce_time`` header text as
    sent); ``sequence`` is its decimal text, empty when None; ``value`` carries a presence
    byte so a tombstone (None) differs from an empty value; ``changed`` (the ``bus_changed``
    header text) likewise, because it decides who is told of an update.
    """
    if isinstance(sequence, bool) or not (sequence is None or isinstance(sequence, int)):
        raise SignatureError("malformed", f"event sequence must be an integer or None, not {sequence!r}")
    fields = (source, event_id, ce_type, subject, time, "" if sequence is None else str(sequence))
    try:
        raw_fields = [field.encode("utf-8") for field in fields]
    except (UnicodeEncodeError, AttributeError):
        raise SignatureError(
            "malformed", f"event header texts must be UTF-8 strings; got {fields!r:.200}"
        ) from None
    try:
        raw_changed = None if changed is None else changed.encode("utf-8")
    except (UnicodeEncodeError, AttributeError):
        raise SignatureError("malformed", "bus_changed must be UTF-8 text") from None
    return event_digest_of_bytes(raw_fields, value, raw_changed)


def event_digest_of_bytes(fields: Sequence[bytes], value: bytes | None, changed: bytes | None) -> bytes:
    """``event_digest`` of the UTF-8 header bytes as they are (source, id, type, subject, time,
    sequence text): for code that holds the header bytes already, e.g. the processor's deliveries."""
    if len(value or b"") > _MAX_COUNT or any(len(f) > _MAX_COUNT for f in fields):
        raise SignatureError("malformed", "an event header or value is larger than 4 GiB")
    pack = _U32.pack
    parts = [_EVENT_TAG, *(pack(len(f)) + f for f in fields)]
    parts.append(b"\x00" if value is None else b"\x01" + pack(len(value)) + value)
    parts.append(b"\x00" if changed is None else b"\x01" + pack(len(changed)) + changed)
    return hashlib.sha256(b"".join(parts)).digest()


def _leaf(digest: bytes) -> bytes:
    return hashlib.sha256(_LEAF + digest).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _signed_message(count: int, root: bytes) -> bytes:
    return _BATCH_TAG + _U32.pack(count) + root


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _from_b64url(text: str) -> bytes | None:
    """Strict, canonical base64url without padding; None if ``text`` is anything else."""
    tail = len(text) % 4
    if tail == 1:
        return None
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    if b"=" in data or b"+" in data or b"/" in data:
        return None
    if (tail == 2 and data[-1] not in b"AQgw") or (tail == 3 and data[-1] not in b"AEIMQUYcgkosw048"):
        return None  # non-zero trailing bits: another text for the same bytes
    try:
        return binascii.a2b_base64(data.translate(_URL_TO_STD) + b"=="[: -tail % 4], strict_mode=True)
    except binascii.Error:
        return None


def _check_key_id(key_id: object) -> str:
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise SignatureError(
            "malformed",
            f"key id {key_id!r:.80} is not 1-128 characters of letters, digits, ':', '.', '_', '-'",
            hint="use the id `key_id_for(public_key)` gives, e.g. ed25519:0123456789abcdef",
        )
    return key_id


def sign_batch(private_key: Ed25519PrivateKey, key_id: str, digests: Sequence[bytes]) -> list[EventSignature]:
    """One signature per digest, in order, made with a single Ed25519 sign over the batch root.

    An empty batch signs nothing and returns ``[]``.
    """
    _check_key_id(key_id)
    if len(digests) > _MAX_COUNT:
        raise SignatureError("malformed", f"a batch holds at most {_MAX_COUNT} events")
    for digest in digests:
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise SignatureError("malformed", "every digest must be 32 bytes from event_digest()")
    if not digests:
        return []
    levels = [[_leaf(d) for d in digests]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [_node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    count = len(digests)
    signature = _b64url(private_key.sign(_signed_message(count, levels[-1][0])))
    if count == 1:
        return [EventSignature(signature, "", key_id)]
    result = []
    for index in range(count):
        path = [_PROOF_HEAD.pack(index, count)]
        position = index
        for level in levels[:-1]:
            sibling = position ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            position //= 2
        result.append(EventSignature(signature, _b64url(b"".join(path)), key_id))
    return result


def _root_from_proof(digest: bytes, proof: bytes) -> tuple[int, bytes] | None:
    """(leaf count, root) the proof leads to, or None if it does not describe a tree path."""
    if len(proof) < _PROOF_HEAD.size or (len(proof) - _PROOF_HEAD.size) % 32:
        return None
    index, count = _PROOF_HEAD.unpack_from(proof)
    if count < 2 or index >= count:  # a batch of one is the empty proof, never an encoded one
        return None
    sha256 = hashlib.sha256
    node = sha256(_LEAF + digest).digest()
    offset, end = _PROOF_HEAD.size, len(proof)
    position, size = index, count
    while size > 1:
        if position % 2 or position + 1 < size:  # else: last of an odd level, promoted unchanged
            if offset == end:
                return None
            sibling = proof[offset : offset + 32]
            offset += 32
            pair = sibling + node if position % 2 else node + sibling
            node = sha256(_NODE + pair).digest()
        position, size = position // 2, (size + 1) // 2
    return (count, node) if offset == end else None


class Verifier:
    """Checks event signatures against the agency directory, one Ed25519 check per batch.

    ``keys`` is called on every event (so a key removed from the directory stops verifying
    at once); exceptions it raises propagate unchanged. Roots that verified are kept in a
    bounded LRU of ``cache_size`` entries (0 turns the cache off).
    """

    def __init__(self, keys: KeyLookup, *, cache_size: int = 65536) -> None:
        if cache_size < 0:
            raise ConfigError(f"cache_size must be 0 or more, not {cache_size}")
        self._keys = keys
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, bytes, bytes, bytes], None] = OrderedDict()
        self._lock = threading.Lock()
        self._checks = 0
        # A batch's events share one signature text and one key: decode each once (bounded).
        self._signatures: dict[str, bytes] = {}
        self._raw_keys: dict[
            int, tuple[Ed25519PublicKey, bytes]
        ] = {}  # id() -> (key, raw); keys are unhashable

    @property
    def ed25519_checks(self) -> int:
        """How many real Ed25519 verifications ran (cache hits excluded)."""
        return self._checks

    def verify(
        self, agency: str, digest: bytes, signature: str | None, proof: str | None, key_id: str | None
    ) -> None:
        """Return if ``digest`` carries a valid signature of ``agency``, else raise ``SignatureError``."""
        if not isinstance(agency, str):
            raise SignatureError("malformed", f"agency id must be text, not {agency!r:.80}")
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise SignatureError("malformed", f"event digest for agency {agency!r} must be 32 bytes")
        if key_id is None or key_id == "":
            raise _missing(agency, "bus_sig_key", "")
        key_id = _check_key_id(key_id)
        if signature is None or signature == "":
            raise _missing(agency, "bus_signature", f" (key {key_id!r})")
        raw_signature = self._signatures.get(signature) if isinstance(signature, str) else None
        if raw_signature is None:
            raw_signature = (
                _from_b64url(signature)
                if isinstance(signature, str) and len(signature) == _SIGNATURE_TEXT
                else None
            )
            if raw_signature is not None:
                if len(self._signatures) >= 1024:
                    self._signatures.clear()
                self._signatures[signature] = raw_signature
        if raw_signature is None:
            raise SignatureError(
                "malformed",
                f"bus_signature of agency {agency!r} (key {key_id!r}) is not 64 bytes of unpadded base64url",
                hint="send the signature exactly as sign_batch() produced it",
            )
        if proof is None or proof == "":
            count, root = 1, _leaf(digest)
        else:
            raw_proof = (
                _from_b64url(proof) if isinstance(proof, str) and len(proof) <= _MAX_PROOF_TEXT else None
            )
            if raw_proof is None:
                raise SignatureError(
                    "malformed",
                    f"bus_sig_proof of agency {agency!r} (key {key_id!r}) is not an unpadded base64url "
                    f"text of at most {_MAX_PROOF_TEXT} characters",
                    hint="send the proof exactly as sign_batch() produced it ('' or no header for one event)",
                )
            path = _root_from_proof(digest, raw_proof)
            if path is None:
                raise SignatureError(
                    "bad_proof",
                    f"bus_sig_proof of agency {agency!r} (key {key_id!r}) does not describe a path in a "
                    "signed batch: leaf index, leaf count and sibling hashes do not fit together",
                    hint="send the proof sign_batch() produced for this event, unchanged",
                )
            count, root = path
        public_key = self._keys(agency, key_id)
        if public_key is None:
            raise SignatureError(
                "unknown_key",
                f"agency {agency!r} has no public key {key_id!r} in the directory",
                hint=_REGISTER_HINT,
            )
        self._check(agency, key_id, public_key, count, root, raw_signature)

    def _check(
        self, agency: str, key_id: str, public_key: Ed25519PublicKey, count: int, root: bytes, sig: bytes
    ) -> None:
        message = _signed_message(count, root)
        known = self._raw_keys.get(id(public_key))
        if known is not None and known[0] is public_key:
            raw_key = known[1]
        else:
            if len(self._raw_keys) >= 1024:
                self._raw_keys.clear()
            raw_key = public_key.public_bytes_raw()
            self._raw_keys[id(public_key)] = (public_key, raw_key)
        entry = (agency, key_id, raw_key, message, sig)
        with self._lock:
            if entry in self._cache:
                self._cache.move_to_end(entry)
                return
            self._checks += 1
        try:
            public_key.verify(sig, message)
        except (InvalidSignature, ValueError):
            raise SignatureError(
                "bad_signature",
                f"signature of agency {agency!r} with key {key_id!r} does not match this event: the event, "
                "its proof or its signature was changed after signing, or another key signed it",
                hint="republish the event as signed by the agency; if it was not changed, " + _REGISTER_HINT,
            ) from None
        if self._cache_size:
            with self._lock:
                self._cache[entry] = None
                self._cache.move_to_end(entry)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)


def _missing(agency: str, header: str, key: str) -> SignatureError:
    return SignatureError(
        "malformed",
        f"event of agency {agency!r}{key} has no {header} header",
        hint="agencies sign every event they publish (bus_signature, bus_sig_proof, bus_sig_key)",
    )


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """A short stable id: ``ed25519:`` + 16 hex characters of SHA-256 of the raw key."""
    return "ed25519:" + hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """Standard base64 of the 32 raw public key bytes, as the agency directory stores it."""
    return base64.b64encode(public_key.public_bytes_raw()).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Inverse of ``public_key_text`` (surrounding whitespace ignored)."""
    try:
        stripped = text.strip()
        raw = base64.b64decode(stripped, validate=True)
        if len(raw) != 32 or base64.b64encode(raw).decode("ascii") != stripped:
            raise ValueError("not 32 bytes in canonical base64")
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, AttributeError, UnsupportedAlgorithm):
        raise SignatureError(
            "malformed",
            f"public key {text!r:.80} is not the base64 of 32 raw Ed25519 public key bytes",
            hint="copy the key `public_key_text()` printed for `bus agencies keygen`, e.g. 44 characters",
        ) from None


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    """The private key as unencrypted PKCS8 PEM (keep the file readable by its owner only)."""
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_key_from_pem(data: bytes) -> Ed25519PrivateKey:
    """Load an unencrypted PKCS8 PEM Ed25519 private key; ``SignatureError`` otherwise."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SignatureError(
            "malformed",
            f"not an unencrypted PKCS8 PEM private key ({exc})",
            hint="use a key file written by `bus agencies keygen`",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(
            "malformed",
            f"the PEM key is {type(key).__name__}, not Ed25519",
            hint="use a key file written by `bus agencies keygen`",
        )
    return key
