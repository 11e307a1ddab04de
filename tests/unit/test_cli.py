"""Every ``bus`` command answers through Typer's runner (no broker needed for these)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bus import __version__
from bus.cli.app import app

runner = CliRunner()


def test_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_the_command_groups() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "version", "broker", "topics"):
        assert command in result.output


@pytest.mark.parametrize(
    "args", [["topics", "list"], ["topics", "create", "bus.audit"], ["broker", "status"]]
)
def test_commands_without_a_broker_address_explain_how_to_get_one(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUS_BOOTSTRAP", raising=False)
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "no broker address given" in result.output
    assert "bus broker up" in result.output


def test_creating_a_badly_named_topic_names_the_bad_part() -> None:
    result = runner.invoke(app, ["topics", "create", "ingress.Civil.person", "--bootstrap", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert "agency id 'Civil' is not valid" in result.output


def test_broker_up_with_an_external_cluster_starts_nothing() -> None:
    result = runner.invoke(app, ["broker", "up", "--bootstrap", "kafka-1.example:9092"])
    assert result.exit_code == 0
    assert "nothing started" in result.output
