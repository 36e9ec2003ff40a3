"""SQL for the dashboard: KPIs over a period and the two charts' aggregated rows.

Definitions (also in the README):
- open tickets at time t: tickets created at or before t whose status at t was not Closed,
  computed from the event log as created(<=t) - closes(<=t) + reopens(<=t);
- first response: creation to the first status change out of Open (tickets.first_response_at);
- resolution: creation to the latest change to Closed, for tickets that are Closed now
  (tickets.closed_at).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Float, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from .domain import EventKind, Status
from .schema import ticket_events, tickets


class hours_between(FunctionElement[float]):
    """(end - start) in hours, as a float, on each backend."""

    type = Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"((julianday({compiler.process(end, **kw)}) - "
        f"julianday({compiler.process(start, **kw)})) * 24.0)"
    )


@compiles(hours_between, "postgresql")
def _hours_postgresql(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
        f"{compiler.process(start, **kw)})) / 3600.0)"
    )


class month_of(FunctionElement[str]):
    """'YYYY-MM' of a UTC timestamp, on each backend."""

    inherit_cache = True
    name = "month_of"


@compiles(month_of, "sqlite")
def _month_sqlite(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(month_of, "postgresql")
def _month_postgresql(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM')"


@dataclass(frozen=True)
class Mean:
    """A mean over `count` tickets; `hours` is None when there were none."""

    hours: float | None
    count: int


def open_tickets_at(conn: Connection, at: datetime) -> int:
    created = select(func.count()).select_from(tickets).where(tickets.c.created_at <= at)
    status_events = select(func.count()).select_from(ticket_events)
    before = and_(ticket_events.c.kind == EventKind.STATUS.value, ticket_events.c.occurred_at <= at)
    closes = status_events.where(before, ticket_events.c.new_value == Status.CLOSED.value)
    reopens = status_events.where(before, ticket_events.c.old_value == Status.CLOSED.value)
    total = conn.execute(
        select(created.scalar_subquery() - closes.scalar_subquery() + reopens.scalar_subquery())
    ).scalar_one()
    return int(total)


def open_tickets_now(conn: Connection) -> int:
    query = select(func.count()).select_from(tickets)
    return int(conn.execute(query.where(tickets.c.status != Status.CLOSED.value)).scalar_one())


def _mean_hours(conn: Connection, moment: Any, start: datetime, end: datetime) -> Mean:
    row = conn.execute(
        select(func.avg(hours_between(tickets.c.created_at, moment)), func.count()).where(
            moment > start, moment <= end
        )
    ).one()
    return Mean(None if row[0] is None else float(row[0]), int(row[1]))


def first_response_mean(conn: Connection, start: datetime, end: datetime) -> Mean:
    """Mean first-response time of the tickets first answered in (start, end]."""
    return _mean_hours(conn, tickets.c.first_response_at, start, end)


def resolution_mean(conn: Connection, start: datetime, end: datetime) -> Mean:
    """Mean resolution time of the tickets that are Closed now, last closed in (start, end]."""
    return _mean_hours(conn, tickets.c.closed_at, start, end)


def status_per_month(conn: Connection) -> list[tuple[str, str, int]]:
    """(month submitted 'YYYY-MM', current status, tickets), by month then status."""
    month = month_of(tickets.c.created_at).label("month")
    rows = conn.execute(
        select(month, tickets.c.status, func.count())
        .group_by(month, tickets.c.status)
        .order_by(month, tickets.c.status)
    )
    return [(str(m), str(s), int(n)) for m, s, n in rows]


def priority_counts(conn: Connection) -> list[tuple[str, int]]:
    """(priority, tickets) over all tickets, as they are now."""
    rows = conn.execute(
        select(tickets.c.priority, func.count())
        .group_by(tickets.c.priority)
        .order_by(tickets.c.priority)
    )
    return [(str(p), int(n)) for p, n in rows]
