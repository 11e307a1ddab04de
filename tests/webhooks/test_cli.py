"""``bus webhooks add|list|remove|parked|run`` on the real broker (Typer's runner, and a real process)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.view import current_directory
from bus.event.topics import dlq_webhook
from bus.kafka.client import KafkaSettings, make_producer, read_to_end
from bus.webhooks.parking import parked_headers
from tests.engine import PROFILE
from tests.processes import LineReader
from tests.support.cli import BusRunner
from tests.support.logins import settings_env

runner = BusRunner()


def webhooks(*args: str, settings: KafkaSettings) -> tuple[int, str]:
    from bus.cli.webhooks import app

    args = (*args, "--bootstrap", settings.bootstrap, "--profile", PROFILE)
    result = runner.invoke(app, args, env={"COLUMNS": "250", "NO_COLOR": "1"})
    return result.exit_code, result.output


def test_add_list_and_remove_a_webhook(kafka_settings: KafkaSettings, unique: str) -> None:
    # given an agency in the directory
    agency = f"tax-{unique}"
    asyncio.run(put_agency(kafka_settings, AgencyEntry(id=agency, name="Tax", public_keys={"k1": "x"})))
    # when a webhook is added without a secret
    code, output = webhooks(
        "add", agency, "https://tax.example/bus", "--horizon", "600", settings=kafka_settings
    )
    # then a secret is generated, printed once, and stored with the entry (other fields kept)
    assert code == 0, output
    secret = output.strip().splitlines()[-1]
    entry = asyncio.run(current_directory(kafka_settings)).get(agency)
    assert entry is not None
    assert entry.webhook is not None
    assert (entry.webhook.url, entry.webhook.secret, entry.webhook.horizon_s) == (
        "https://tax.example/bus",
        secret,
        600,
    )
    assert entry.public_keys == {"k1": "x"}
    # and the listing shows the URL but never the secret
    code, output = webhooks("list", settings=kafka_settings)
    assert code == 0
    assert "https://tax.example/bus" in output
    assert secret not in output
    # when it is removed, the entry has no webhook any more
    assert webhooks("remove", agency, settings=kafka_settings)[0] == 0
    entry = asyncio.run(current_directory(kafka_settings)).get(agency)
    assert entry is not None
    assert entry.webhook is None


def test_bad_registrations_are_refused_with_a_hint(kafka_settings: KafkaSettings, unique: str) -> None:
    code, output = webhooks("add", f"nobody-{unique}", "https://x.example/hook", settings=kafka_settings)
    assert code == 1
    assert "is not in the directory" in output
    assert "bus agencies add" in output
    code, output = webhooks("add", "tax", "http://tax.example/hook", settings=kafka_settings)
    assert code == 1
    assert "plain HTTP" in output
    code, output = webhooks(
        "add", "tax", "https://tax.example/hook", "--secret", "hunter2", settings=kafka_settings
    )
    assert code == 1
    assert "not a Standard Webhooks secret" in output


def test_parked_lists_reasons_and_replay_restores_the_delivery(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    agency = f"tax-{unique}"
    headers = parked_headers(
        [("ce_id", b"0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90")],
        stage="webhook",
        reason="receiver_rejected",
        detail="https://tax.example/bus answered HTTP 400: unknown taxpayer",
        topic=f"deliver.{agency}.a",
        status=400,
        attempts=1,
    )

    async def park() -> None:
        from bus.event.topics import spec_for
        from bus.kafka.client import create_topics

        await create_topics(kafka_settings, [spec_for(dlq_webhook(agency)), spec_for(f"deliver.{agency}.a")])
        producer = make_producer(kafka_settings)
        await producer.start()
        try:
            await producer.send_and_wait(
                dlq_webhook(agency), key=b"900101300017", value=b"x", headers=headers
            )
        finally:
            await producer.stop()

    asyncio.run(park())
    code, output = webhooks("parked", agency, settings=kafka_settings)
    assert code == 0, output
    assert "receiver_rejected" in output
    assert "400" in output
    # when replayed, the update is back on its delivery topic with its own headers only
    code, output = webhooks("replay", agency, settings=kafka_settings)
    assert code == 0, output
    [again] = asyncio.run(read_to_end(kafka_settings, f"deliver.{agency}.a"))
    assert (again.key, again.value) == (b"900101300017", b"x")
    assert [(k, bytes(v)) for k, v in again.headers] == [("ce_id", b"0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90")]


def test_run_starts_and_stops_on_sigint(
    kafka_settings: KafkaSettings, registry_url: str, unique: str
) -> None:
    # given `bus webhooks run` as a process, limited to one agency by its settings variable
    env = {
        **os.environ,
        **settings_env(kafka_settings),  # its keyring: the dispatcher logs in as bus.webhooks
        "BUS_WEBHOOKS_AGENCIES": json.dumps([f"tax-{unique}"]),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    code = "from bus.cli.webhooks import app; app(prog_name='bus webhooks')"
    args = ["run", "--group", f"bus-webhooks-{unique}", "--registry", registry_url]
    args += ["--bootstrap", kafka_settings.bootstrap, "--profile", PROFILE]
    with subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as proc:
        out = LineReader(proc)
        try:
            out.wait_for(r"webhook dispatcher ready")
            # when it is interrupted
            proc.send_signal(signal.SIGINT)
            # then it stops in order and says what it did
            out.wait_for(r"webhook dispatcher stopped: 0 delivered, 0 parked")
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            out.close()
