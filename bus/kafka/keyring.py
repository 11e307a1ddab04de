"""The local machine's Kafka passwords, one file per cluster, readable by its owner only.

``bus up`` on the Kafka engine gives every bus service a SCRAM user of its own (issue #20). The
services of one ``bus up`` run in one process, so their passwords sit together in
``<data-dir>/kafka/keyring.json`` (mode 0600), and each component picks its own entry
(``KafkaSettings.acting_as``). In production each service gets only its own secret
(``BUS_SASL_USERNAME``/``BUS_SASL_PASSWORD``) and no keyring.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from bus.errors import ConfigError

__all__ = ["Keyring", "read_keyring", "write_keyring", "write_private"]


class Keyring(BaseModel):
    """How to log in to one cluster, and the password of every user this machine runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL"] = "SASL_PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    ssl_cafile: Path | None = None
    default_user: str
    users: dict[str, SecretStr]

    def password(self, user: str, *, path: Path) -> SecretStr:
        found = self.users.get(user)
        if found is None:
            raise ConfigError(
                f"the keyring {path} has no Kafka password for {user!r} "
                f"(it holds: {', '.join(sorted(self.users))})",
                hint="restart `bus up` so it creates the missing service user, or give this component "
                "its own BUS_SASL_USERNAME and BUS_SASL_PASSWORD",
            )
        return found


def read_keyring(path: Path) -> Keyring:
    try:
        return Keyring.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"cannot read the Kafka keyring {path}: {exc.strerror}",
            hint="BUS_KEYRING names the keyring.json that `bus up` writes under <data-dir>/kafka/",
        ) from None
    except ValidationError as exc:
        raise ConfigError(
            f"the Kafka keyring {path} is not valid: {exc.errors()[0]['msg']}",
            hint="remove it and restart `bus up` to write a new one",
        ) from None


def write_keyring(path: Path, keyring: Keyring) -> None:
    users = {user: secret.get_secret_value() for user, secret in sorted(keyring.users.items())}
    data = {**keyring.model_dump(mode="json", exclude={"users"}), "users": users}
    write_private(path, json.dumps(data, indent=2))


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a file created 0600, so no other local user can read a
    password at any moment."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)
