"""Portable SQL expressions for time arithmetic, compiled per backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, case, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


def count_where(condition: Any) -> Any:
    """SQL aggregate: how many rows meet `condition` (0 over no rows)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class hours_between(FunctionElement[float]):
    """(end - start) in hours, as a float."""

    type = Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    """Whole seconds by strftime, microseconds from the stored text's last six digits
    ('YYYY-MM-DD HH:MM:SS.ffffff'): exact like Python's timedelta, where julianday keeps only
    milliseconds (a recount of many tickets' hours then drifted from the kept sums)."""

    def part(clause: Any, sql: str) -> str:
        return sql.format(compiler.process(clause, **kw))

    start, end = element.clauses
    whole = "strftime('%s', substr({}, 1, 19))"  # whole seconds: their difference is exact
    micro = "substr({}, 21, 6)"
    return (
        f"(({part(end, whole)} - {part(start, whole)}"
        f" + ({part(end, micro)} - {part(start, micro)}) / 1000000.0) / 3600.0)"
    )


@compiles(hours_between, "postgresql")
def _hours_postgresql(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


class _utc_text(FunctionElement[str]):
    """A UTC timestamp as text in a fixed format (subclasses name it)."""

    inherit_cache = True
    SQLITE_FORMAT = ""
    POSTGRESQL_FORMAT = ""


class day_of(_utc_text):
    """'YYYY-MM-DD' of a UTC timestamp."""

    inherit_cache = True
    name = "day_of"
    SQLITE_FORMAT = "%Y-%m-%d"
    POSTGRESQL_FORMAT = "YYYY-MM-DD"


class hour_of(_utc_text):
    """'YYYY-MM-DD HH' of a UTC timestamp."""

    inherit_cache = True
    name = "hour_of"
    SQLITE_FORMAT = "%Y-%m-%d %H"
    POSTGRESQL_FORMAT = "YYYY-MM-DD HH24"


@compiles(day_of, "sqlite")
@compiles(hour_of, "sqlite")
def _utc_text_sqlite(element: _utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"strftime('{element.SQLITE_FORMAT}', {column})"


@compiles(day_of, "postgresql")
@compiles(hour_of, "postgresql")
def _utc_text_postgresql(element: _utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(({column}) AT TIME ZONE 'UTC', '{element.POSTGRESQL_FORMAT}')"
