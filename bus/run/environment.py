"""The ``BUS_*`` environment, read one way: the operator token's one name, and misspelt names caught.

pydantic-settings ignores variables no field claims, so ``BUS_BOOTSRAP=…`` would silently connect to
the default; every command checks the environment against the names it knows and says which was meant.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings

OPERATOR_TOKEN_ENV = "BUS_OPERATOR_TOKEN"
_TEST_SUITE_PREFIXES = ("BUS_TEST_", "BUS_FUZZ_")  # the test suite's own switches, not settings

OperatorToken = Annotated[str | None, Field(validation_alias=OPERATOR_TOKEN_ENV)]
"""The field every service acting as the operator declares (``operator_token: OperatorToken = None``)."""


def operator_token() -> str | None:
    """The operator token for code that is not a settings class (the CLI): the same variable."""
    return os.environ.get(OPERATOR_TOKEN_ENV) or None


def settings_variables(settings: type[BaseSettings]) -> set[str]:
    """The environment variable names a pydantic-settings class reads."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias.upper() if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """One warning per ``BUS_*`` variable nothing reads, naming the closest known one."""
    known = sorted(set(known))
    warnings = []
    unknown = (n for n in environ if n.startswith("BUS_") and n not in known)
    for name in sorted(n for n in unknown if not n.startswith(_TEST_SUITE_PREFIXES)):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}?" if close else "no agency-bus setting has a similar name"
        warnings.append(f"{name} is set but no agency-bus setting reads it; {hint}")
    return warnings
