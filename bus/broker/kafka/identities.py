"""Who may log in to a local Kafka cluster, and the ACLs its bus services start with (issue #20).

Two files under the cluster's root, both 0600 and never logged:

* ``secrets.json``: the cluster's own principals (``bus.admin``, ``bus.broker``, ``bus.controller``);
  no bus service reads it.
* ``keyring.json``: one SCRAM user per bus service (``bus.processor``, ``bus.operator``, ...), which
  ``bus up`` and the CLI on this machine log in with (``KafkaSettings.keyring``).

At every start ``seed`` (as ``bus.admin``) makes the broker's SCRAM users match the keyring and adds
the services' ACLs that are missing; agencies' users and ACLs are the operator's and bus.acl-sync's.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from bus.acl.rules import OPERATOR, SERVICES, rules_for
from bus.broker.kafka.config import ClusterSecrets
from bus.directory.tokens import new_token
from bus.errors import BrokerStartError
from bus.kafka.access import broker_acls, create_acls, upsert_users
from bus.kafka.client import KafkaSettings, make_admin
from bus.kafka.keyring import Keyring, read_keyring, write_keyring, write_private

SECRETS = "secrets.json"
KEYRING = "keyring.json"


def cluster_secrets(root: Path) -> ClusterSecrets:
    """The cluster's own passwords: created once, kept with its data."""
    path = root / SECRETS
    if path.exists():
        return ClusterSecrets(**json.loads(path.read_text()))
    found = ClusterSecrets(admin=new_token(), broker=new_token(), controller=new_token())
    write_private(path, json.dumps(found.__dict__, indent=2))
    return found


def service_keyring(root: Path, ca: Path | None) -> Path:
    """The keyring of the bus services, with a password for every service (new services get one),
    and TLS to the client listener when the cluster has a CA (``ca``)."""
    path = root / KEYRING
    current = read_keyring(path) if path.exists() else Keyring(default_user=OPERATOR.user, users={})
    users = {u: s.get_secret_value() for u, s in current.users.items()}
    users |= {user: new_token() for user in {s.user for s in SERVICES} - users.keys()}
    wanted = Keyring.model_validate(
        {
            "security_protocol": "SASL_SSL" if ca else "SASL_PLAINTEXT",
            "ssl_cafile": ca,
            "default_user": current.default_user,
            "users": users,
        }
    )
    if wanted != current or not path.exists():
        write_keyring(path, wanted)
    return path


async def seed(admin: KafkaSettings, keyring_path: Path, node_bootstraps: list[str]) -> None:
    """Every service's SCRAM user and ACLs, then wait until each node accepts the services' logins."""
    keyring = read_keyring(keyring_path)
    await upsert_users(admin, {user: s.get_secret_value() for user, s in keyring.users.items()})
    missing = set(rules_for([])) - await broker_acls(admin)
    await create_acls(admin, missing)
    operator = KafkaSettings(bootstrap=admin.bootstrap, keyring=keyring_path)
    for bootstrap in node_bootstraps:
        await _await_login(operator.model_copy(update={"bootstrap": bootstrap}))


async def _await_login(settings: KafkaSettings, timeout_s: float = 30.0) -> None:
    """A new SCRAM credential reaches each node with the metadata log; until then its login fails."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        admin = make_admin(settings)
        try:
            await asyncio.wait_for(admin.start(), 5.0)
            return
        except Exception as exc:  # refused login, not up yet: both mean "not yet"
            last = f"{type(exc).__name__}: {exc}"
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
    raise BrokerStartError(
        f"{settings.sasl_username} cannot log in to {settings.bootstrap} after {timeout_s:.0f} s ({last})",
        hint="see the node's log; remove the data dir if it was created by an older bus without SASL",
    )
