"""SQL for the dashboard, read from the counter tables only, so its cost does not grow with the
number of tickets (see counters.py for how they are kept).

Definitions (also in the README). A period is a run of whole UTC days ending today.
- open tickets: tickets whose status is Open or In Progress; at the start of the period:
  open now - created in the period + closes in the period - reopens in the period;
- first response: creation to the first status change out of Open, counted on the day it
  happened;
- resolution: creation to the latest change to Closed, for the tickets Closed now, counted on
  the day of that close.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, select

from .domain import Status
from .schema import daily_activity, ticket_counts


@dataclass(frozen=True)
class Mean:
    """A mean over `count` tickets; `hours` is None when there were none."""

    hours: float | None
    count: int


@dataclass(frozen=True)
class Activity:
    """What happened on the days first..last (inclusive)."""

    created: int
    closes: int
    reopens: int
    first_response: Mean
    resolution: Mean


def _mean(total: float | None, count: int | None) -> Mean:
    n = int(count or 0)
    return Mean(None if n == 0 else float(total or 0) / n, n)


def activity(conn: Connection, first: date, last: date) -> Activity:
    a = daily_activity.c
    row = conn.execute(
        select(
            func.sum(a.created),
            func.sum(a.closes),
            func.sum(a.reopens),
            func.sum(a.first_response_hours),
            func.sum(a.first_responses),
            func.sum(a.resolution_hours),
            func.sum(a.resolutions),
        ).where(a.day >= first.isoformat(), a.day <= last.isoformat())
    ).one()
    return Activity(
        created=int(row[0] or 0),
        closes=int(row[1] or 0),
        reopens=int(row[2] or 0),
        first_response=_mean(row[3], row[4]),
        resolution=_mean(row[5], row[6]),
    )


def open_tickets_now(conn: Connection) -> int:
    query = select(func.coalesce(func.sum(ticket_counts.c.tickets), 0))
    return int(
        conn.execute(query.where(ticket_counts.c.status != Status.CLOSED.value)).scalar_one()
    )


def status_per_month(conn: Connection) -> list[tuple[str, str, int]]:
    """(month submitted 'YYYY-MM', current status, tickets), by month then status."""
    month = func.substr(ticket_counts.c.created_day, 1, 7).label("month")
    rows = conn.execute(
        select(month, ticket_counts.c.status, func.sum(ticket_counts.c.tickets))
        .group_by(month, ticket_counts.c.status)
        .having(func.sum(ticket_counts.c.tickets) > 0)
        .order_by(month, ticket_counts.c.status)
    )
    return [(str(m), str(s), int(n)) for m, s, n in rows]


def priority_counts(conn: Connection) -> list[tuple[str, int]]:
    """(priority, tickets) over all tickets, as they are now."""
    rows = conn.execute(
        select(ticket_counts.c.priority, func.sum(ticket_counts.c.tickets))
        .group_by(ticket_counts.c.priority)
        .having(func.sum(ticket_counts.c.tickets) > 0)
        .order_by(ticket_counts.c.priority)
    )
    return [(str(p), int(n)) for p, n in rows]
