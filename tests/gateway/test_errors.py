"""What a caller of the gateway learns when something fails that is not the caller's fault.

A broker that cannot be reached is a retriable 503 (``bus/gateway/errors.py``: the request may
simply be sent again). Anything else unexpected is a bug in the gateway: a 500, never a 503 that
would have clients retry it forever, with its traceback in the server's log for whoever fixes it.
Both against a real gateway on a real port and a real broker.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bus.broker.ports import free_port
from bus.directory.model import Role
from bus.gateway.consent_api import ConsentBook
from bus.gateway.service import GatewayService
from tests.engine import local_broker, prepare
from tests.people import person
from tests.support.eventually import eventually, until
from tests.support.logins import admin_settings
from tests.support.world import World


@contextlib.contextmanager
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What the HTTP server logs. uvicorn keeps its loggers off the root logger (and resets them
    when a server is configured), so the capture is attached to its error logger while it serves."""
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


async def knows(gateway: GatewayService, token: str) -> None:
    """The gateway follows bus.agencies: wait until it accepts ``token``."""
    await until(lambda: gateway.directory.authenticate(f"Bearer {token}") is not None)


async def consents_of(gateway: GatewayService, iin: str, token: str) -> httpx.Response:
    """``GET /v1/consent/subjects/{iin}``: a read that is recorded on the broker before it is answered."""
    async with httpx.AsyncClient(timeout=120) as client:  # a send to an absent broker waits out its timeout
        return await client.get(
            f"http://127.0.0.1:{gateway.settings.port}/v1/consent/subjects/{iin}",
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_a_programming_error_is_a_500_with_its_traceback_in_the_server_log(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a running gateway and a portal that may read a person's consents
    portal = await world.subscriber_agency("portal", role=Role.PORTAL)
    async with world.gateway(f"sqlite:///{tmp_path / 'audit.sqlite'}") as gateway:
        await knows(gateway, portal)
        # and a bug: the consent book's lookup was renamed without its caller
        monkeypatch.delattr(ConsentBook, "of")
        # when the portal reads the person's consents
        with server_log(caplog) as log:
            answer = await consents_of(gateway, person(1)["iin"], portal)
    # then the answer is a 500, not a retriable 503
    assert answer.status_code == 500, answer.text
    # and the server logged the error with its traceback, down to the line that failed
    [failure] = [r for r in log.records if r.exc_info is not None]
    assert failure.levelno == logging.ERROR
    assert failure.exc_info is not None
    assert failure.exc_info[0] is AttributeError
    assert "bus/gateway/consent_api.py" in log.text
    assert "self.book.of(subject)" in log.text


async def test_a_broker_outage_is_a_503_and_the_same_read_is_answered_when_retried_after_it(
    registry_url: str, operator_token: str, unique: str, tmp_path: Path
) -> None:
    # given a gateway on a durable broker of its own (the registry is not consulted by a consent read)
    port, data = free_port(), tmp_path / "broker-data"
    broker = local_broker(port=port, data_dir=data, log_dir=tmp_path / "broker-1")
    await broker.start()
    try:
        await prepare(broker)
        admin = admin_settings(broker)
        world = World(broker.settings(), registry_url, operator_token, unique, tmp_path, admin=admin)
        portal = await world.subscriber_agency("portal", role=Role.PORTAL)
        async with world.gateway(f"sqlite:///{tmp_path / 'audit.sqlite'}") as gateway:
            await knows(gateway, portal)
            # when the broker goes away and the portal reads a person's consents
            await broker.stop()
            during = await consents_of(gateway, person(1)["iin"], portal)
            # and the portal sends the same read again once the broker is back on its port
            broker = local_broker(port=port, data_dir=data, log_dir=tmp_path / "broker-2")
            await broker.start()
            after = await eventually(lambda: answered(gateway, person(1)["iin"], portal), timeout_s=120)
    finally:
        await broker.stop()
    # then the read during the outage is a 503 that names the broker and invites a retry
    assert during.status_code == 503, during.text
    assert during.json()["error"] == "broker_unavailable", during.text
    assert "retry" in during.json()["hint"]
    # and the retry is answered
    assert after.status_code == 200, after.text


async def answered(gateway: GatewayService, iin: str, token: str) -> httpx.Response | None:
    response = await consents_of(gateway, iin, token)
    return response if response.status_code == 200 else None
