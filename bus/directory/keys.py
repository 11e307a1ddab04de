"""Public signing keys in the directory: an agency's, and the services' (``bus.processor``, ``bus.webhooks``).

Registering a key keeps the ones before it, so what was signed with a rotated-out key still
verifies until the operator removes that key id from the entry.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bus.directory.model import PROCESSOR_IDENTITY, SERVICE_NAMES, AgencyEntry, Role
from bus.directory.publish import put_agency
from bus.directory.view import current_directory
from bus.errors import ConfigError
from bus.event.signed_event import Signer
from bus.event.signing import key_id_for, private_key_from_pem, private_key_pem, public_key_text
from bus.kafka.client import KafkaSettings


async def register_public_key(settings: KafkaSettings, identity: str, public_key: Ed25519PublicKey) -> str:
    """Add ``public_key`` to ``identity``'s entry (creating a service's on first use); its key id."""
    entry = (await current_directory(settings)).get(identity)
    if entry is None and identity in SERVICE_NAMES:
        entry = AgencyEntry(id=identity, name=SERVICE_NAMES[identity], role=Role.SERVICE)
    if entry is None:
        raise ConfigError(
            f"agency {identity!r} is not in the directory", hint=f"bus agencies add {identity} --name …"
        )
    key_id = key_id_for(public_key)
    if entry.public_keys.get(key_id) != public_key_text(public_key):
        keys = {**entry.public_keys, key_id: public_key_text(public_key)}  # old key ids stay valid
        await put_agency(settings, entry.model_copy(update={"public_keys": keys}))
    return key_id


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write a new PEM key readable by its owner only; never over an existing file."""
    if path.exists():
        raise ConfigError(f"{path} exists; refusing to overwrite a private key", hint="choose another path")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(private_key_pem(key))


def load_signer(path: Path, identity: str) -> Signer:
    """The signer in a PEM key file, with an error naming the file and how to make one."""
    try:
        return Signer.of(private_key_from_pem(path.read_bytes()))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the signing key of {identity!r} at {path}: {exc.strerror}",
            hint=f"make one with `bus agencies keygen {identity} --out {path}`",
        ) from None


def made_signer(path: Path, identity: str) -> Signer:
    """The signer in ``path``, after making a new key there if there is none yet."""
    if not path.exists():
        write_private_key(path, Ed25519PrivateKey.generate())
    return load_signer(path, identity)


async def ensure_service_key(
    settings: KafkaSettings, path: Path, identity: str = PROCESSOR_IDENTITY
) -> Signer:
    """A service's signer, made at ``path`` if missing and registered (``bus up``, tests, bench)."""
    signer = made_signer(path, identity)
    await register_public_key(settings, identity, signer.private_key.public_key())
    return signer
