"""Typer's runner, logged in as a user's shell is after exporting what ``bus up`` prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from typer.testing import CliRunner, Result

from tests.engine import login_env


class BusRunner(CliRunner):
    """Adds the keyring of the broker that ``--bootstrap`` names (tests/engine.py) to each invocation."""

    def invoke(  # type: ignore[override]
        self, app: Any, args: Sequence[str] = (), *, env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Result:
        given = list(args)
        login = login_env(given[given.index("--bootstrap") + 1]) if "--bootstrap" in given else {}
        return super().invoke(app, given, env={**login, **(env or {})}, **kwargs)
