"""Run async command bodies and turn bus errors into one readable line and exit code 1."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape

from bus.errors import BusError
from bus.kafka.client import as_bus_error

T = TypeVar("T")
err_console = Console(stderr=True)


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except KafkaError as exc:
        fail(as_bus_error(exc))
    except BusError as exc:
        fail(exc)


def fail(exc: BusError) -> NoReturn:
    err_console.print(f"[bold red]error[/] {escape(f'[{exc.code}]')} {escape(exc.message)}")
    if exc.hint:
        err_console.print(f"[yellow]hint[/]: {escape(exc.hint)}")
    raise typer.Exit(1)
