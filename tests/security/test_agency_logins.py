"""An agency's Kafka login: issued once by ``bus agencies add``, replaced by ``rotate-credentials`` (#20)."""

from __future__ import annotations

import re

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
