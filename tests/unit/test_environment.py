"""A misspelt ``BUS_*`` variable is reported with the name that was meant, never silently ignored."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bus.cli.app import app
from bus.cli.environment import known_variables
from bus.run.environment import OPERATOR_TOKEN_ENV, unknown_variables


def test_a_misspelt_variable_names_the_closest_known_one() -> None:
    warnings = unknown_variables({"BUS_BOOTSRAP": "kafka:9092"}, {"BUS_BOOTSTRAP", "BUS_DATA_DIR"})
    assert warnings == ["BUS_BOOTSRAP is set but no agency-bus setting reads it; did you mean BUS_BOOTSTRAP?"]


def test_a_variable_like_no_setting_says_so() -> None:
    warnings = unknown_variables({"BUS_COLOUR": "blue"}, {"BUS_BOOTSTRAP"})
    assert warnings == [
        "BUS_COLOUR is set but no agency-bus setting reads it; no agency-bus setting has a similar name"
    ]


def test_variables_outside_the_bus_prefix_are_not_ours_to_judge() -> None:
    assert unknown_variables({"PATH": "/bin", "BUSY": "1"}, set()) == []


def test_known_variables_cover_settings_classes_and_command_options() -> None:
    known = known_variables(app)
    assert {
        "BUS_BOOTSTRAP",
        OPERATOR_TOKEN_ENV,
        "BUS_WEBHOOKS_HORIZON_S",
        "BUS_AUDIT_DB_URL",
        "BUS_OPS_PORT",
    } <= known


def test_every_command_warns_about_a_misspelt_variable_and_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a typo in the environment
    monkeypatch.setenv("BUS_GATEWAY_INGEST_RATE_PERS", "10")
    # when
    result = CliRunner().invoke(app, ["version"])
    # then: the command ran, and the warning named the setting that was meant
    assert result.exit_code == 0
    assert "BUS_GATEWAY_INGEST_RATE_PERS" in result.output
    assert "BUS_GATEWAY_INGEST_RATE_PER_S" in result.output
