"""Every ``bus`` command first warns about ``BUS_*`` variables nothing reads (a typo is not a default)."""

from __future__ import annotations

import os

import typer
from rich.console import Console

from bus.audit.archive import ArchiveSettings
from bus.gateway.service import GatewaySettings
from bus.kafka.client import KafkaSettings
from bus.processor.service import ProcessorSettings
from bus.registry.service import RegistrySettings
from bus.run.environment import settings_variables, unknown_variables
from bus.wallet.materialise import WalletSettings
from bus.webhooks.dispatcher import WebhookSettings

_SETTINGS = (
    ArchiveSettings,
    GatewaySettings,
    KafkaSettings,
    ProcessorSettings,
    RegistrySettings,
    WalletSettings,
    WebhookSettings,
)


def _option_variables(command: object) -> set[str]:
    """Environment names of a command's options and its subcommands' (typer vendors click's types)."""
    names: set[str] = set()
    for param in getattr(command, "params", []):
        envvar = getattr(param, "envvar", None)
        if isinstance(envvar, str):
            names.add(envvar)
        elif envvar:
            names.update(envvar)
    for sub in getattr(command, "commands", {}).values():
        names |= _option_variables(sub)
    return names


def known_variables(app: typer.Typer) -> set[str]:
    """Every ``BUS_*`` name a settings class or a command option reads."""
    names = _option_variables(typer.main.get_command(app))
    for settings in _SETTINGS:
        names |= settings_variables(settings)
    return names


def warn_unknown_variables(app: typer.Typer) -> None:
    console = Console(stderr=True)
    for warning in unknown_variables(os.environ, known_variables(app)):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
