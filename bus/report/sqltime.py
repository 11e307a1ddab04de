"""``millis_between(later, earlier)``: whole milliseconds between two timestamp columns, in SQL.

Date arithmetic is not portable: SQLite stores timestamps as text (``julianday`` reads them, with
millisecond significance), PostgreSQL subtracts them into an interval. Rounding to whole
milliseconds makes both give the same number for the archive's millisecond timestamps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class millis_between(FunctionElement[float]):
    """``later - earlier`` in whole milliseconds (a float column)."""

    type = Float()
    inherit_cache = True
    name = "millis_between"


def _parts(element: millis_between, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    later, earlier = list(element.clauses)
    return compiler.process(later, **kw), compiler.process(earlier, **kw)


@compiles(millis_between, "sqlite")
def _sqlite(element: millis_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _parts(element, compiler, **kw)
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400000.0)"


@compiles(millis_between, "postgresql")
def _postgresql(element: millis_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _parts(element, compiler, **kw)
    return f"ROUND(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000)"


@compiles(millis_between)
def _other(element: millis_between, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(
        f"millis_between is defined for SQLite and PostgreSQL, not {compiler.dialect.name}; "
        "add a @compiles rule for it in bus/report/sqltime.py"
    )
