"""The archiver's checkpoint signing key, and the public keys a verifier trusts.

The archiver signs with a private key file (PKCS8 PEM, created mode 0600 on first start) and writes
the public half next to it as ``<name>.pub`` (base64 of the raw key, as the agency directory shows
keys). A verifier trusts only public key files it is given: never keys read from the checkpoint topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bus.errors import ConfigError
from bus.event.signing import (
    key_id_for,
    private_key_from_pem,
    private_key_pem,
    public_key_from_text,
    public_key_text,
)


def public_key_path(private_key_file: Path) -> Path:
    """Where the public half of a key file is written: same name, suffix ``.pub``."""
    return private_key_file.with_suffix(".pub")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key in ``path``, created (mode 0600, with its ``.pub``) when the file does not exist."""
    if path.exists():
        key = private_key_from_pem(path.read_bytes())
    else:
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(private_key_pem(key))
    public = public_key_path(path)
    if not public.exists():
        public.write_text(public_key_text(key.public_key()) + "\n")
    return key


def load_trusted_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id from files: base64 raw keys one per line ('#' comments) or a PEM public key."""
    trusted: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(
                f"cannot read trusted key file {str(path)!r}: {exc.strerror}",
                hint="pass the archiver's public key file (written next to its key as audit-key.pub)",
            ) from None
        for key in _keys_in(text, path):
            trusted[key_id_for(key)] = key
    return trusted


def _keys_in(text: str, path: Path) -> list[Ed25519PublicKey]:
    if "-----BEGIN PUBLIC KEY-----" in text:
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError:
            key = None
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(
                f"{str(path)!r} does not hold an Ed25519 PEM public key",
                hint="use the .pub file the archiver wrote next to its key",
            )
        return [key]
    lines = [line.strip() for line in text.splitlines()]
    return [public_key_from_text(line) for line in lines if line and not line.startswith("#")]
