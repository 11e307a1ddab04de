"""An agency's Kafka login: issued once by ``bus agencies add``, replaced by ``rotate-credentials`` (#20)."""

from __future__ import annotations

import re
from pathlib import Path

from bus.event.topics import spec_for
from bus.kafka.client import create_topics
from tests.processes import bus
from tests.security import probes
from tests.security.conftest import Secured, client_config


def _login(output: str) -> tuple[str, str]:
    user = re.search(r"^BUS_SASL_USERNAME=(\S+)$", output, re.MULTILINE)
    password = re.search(r"^BUS_SASL_PASSWORD=(\S+)$", output, re.MULTILINE)
    assert user is not None, output
    assert password is not None, output
    return user[1], password[1]


def test_an_added_agency_logs_in_with_the_password_printed_once_and_a_rotation_replaces_it(
    secured: Secured,
) -> None:
    # given an agency added from the shell, which prints its token and its Kafka login once
    added = bus("agencies", "add", "akimat-sec", "--name", "Akimat", "--bootstrap", secured.cluster.bootstrap)
    assert added.returncode == 0, added.stderr
    user, first = _login(added.stdout)
    token = added.stdout.strip().splitlines()[-1]
    # then it logs in as itself, and the listing shows neither secret
    assert user == "akimat-sec"
    assert probes.connect(client_config(secured.cluster.bootstrap, user, first))[0] == "ok"
    listed = bus("agencies", "list", "--bootstrap", secured.cluster.bootstrap)
    assert first not in listed.stdout
    assert token not in listed.stdout
    # when its credentials are rotated
    rotated = bus("agencies", "rotate-credentials", user, "--bootstrap", secured.cluster.bootstrap)
    assert rotated.returncode == 0, rotated.stderr
    _, second = _login(rotated.stdout)
    # then the new password logs in and the old one is refused
    assert second != first
    assert probes.connect(client_config(secured.cluster.bootstrap, user, second))[0] == "ok"
    answer, errors = probes.connect(client_config(secured.cluster.bootstrap, user, first))
    assert answer != "ok"
    assert "_AUTHENTICATION" in errors


async def test_a_signing_key_made_with_keygen_lets_the_agency_publish_its_own_ingress(
    secured: Secured, tmp_path: Path
) -> None:
    # given an agency added from the shell, with its login, and its ingress topic
    broker = ("--bootstrap", secured.cluster.bootstrap)
    added = bus("agencies", "add", "land-sec", "--name", "Land registry", *broker)
    user, password = _login(added.stdout)
    login = client_config(secured.cluster.bootstrap, user, password)
    topic = "ingress.land-sec.parcel"
    await create_topics(secured.settings, [spec_for(topic)])
    # when it has no signing key yet, then the broker refuses its records
    assert probes.write(login, topic) == probes.DENIED
    # when the operator makes it one
    made = bus("agencies", "keygen", user, "--out", str(tmp_path / "land.pem"), *broker)
    assert made.returncode == 0, made.stderr
    # then it may publish its own changes
    assert probes.write(login, topic, b"a parcel") == "ok"
