"""SLA shares without reading a period's tickets: per creation hour and priority, how many
tickets were filed and how many met their first-response and resolution targets (the
targets stored now; see sla.py). Kept in the same transaction as every change, rebuilt from
the tickets' stored durations when the targets change, and read by `shares`, which adds the
whole hours of a window from this table and counts only its partial edge hours from the
tickets. A deadline falls in [start, end) exactly when its ticket was created in
[start - target, end - target), so a window of deadlines is a window of creation times."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, case, delete, func, insert, literal, select

from .counters import add_many, hours
from .domain import Priority, Ticket
from .schema import deadline_counts, tickets
from .sla import Targets, limit_hours
from .sqlfunctions import hour_of

AMOUNTS = ("tickets", "first_met", "resolution_met")


class Standing(NamedTuple):
    """What one ticket adds to the table: its (priority, hour) row and its amounts."""

    priority: str
    hour: str
    first_met: int
    resolution_met: int


def hour_key(moment: datetime) -> str:
    """'YYYY-MM-DD HH' of `moment` in UTC, as the SQL of hour_of gives it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H")


def standing(
    priority: str,
    created_at: datetime,
    first_response_hours: float | None,
    resolution_hours: float | None,
    targets: Targets,
) -> Standing:
    """A ticket's contribution under `targets` (the comparison SQL makes: see `_met`)."""
    target = targets[Priority(priority)]
    first_limit = limit_hours(target.first_response_hours)
    resolution_limit = limit_hours(target.resolution_hours)
    return Standing(
        priority,
        hour_key(created_at),
        int(first_response_hours is not None and first_response_hours <= first_limit),
        int(resolution_hours is not None and resolution_hours <= resolution_limit),
    )


def of_ticket(ticket: Ticket, targets: Targets) -> Standing:
    first = ticket.first_response_at
    closed = ticket.closed_at
    return standing(
        ticket.priority.value,
        ticket.created_at,
        None if first is None else hours(ticket.created_at, first),
        None if closed is None else hours(ticket.created_at, closed),
        targets,
    )


def add(conn: Connection, gone: Iterable[Standing] = (), came: Iterable[Standing] = ()) -> None:
    """Take the `gone` contributions out of the table and put the `came` ones in."""
    amounts: Counter[tuple[str, str, str]] = Counter()
    for sign, items in ((-1, gone), (+1, came)):
        for item in items:
            amounts[(item.priority, item.hour, "tickets")] += sign
            amounts[(item.priority, item.hour, "first_met")] += sign * item.first_met
            amounts[(item.priority, item.hour, "resolution_met")] += sign * item.resolution_met
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for (priority, hour, name), n in amounts.items():
        row = rows.setdefault((priority, hour), {"priority": priority, "hour": hour})
        row[name] = n
    changed = [
        {name: row.get(name, 0) for name in AMOUNTS} | {"priority": p, "hour": h}
        for (p, h), row in rows.items()
        if any(row.get(name, 0) for name in AMOUNTS)
    ]
    add_many(conn, deadline_counts, ("priority", "hour"), AMOUNTS, changed)


def _total(condition: Any) -> Any:
    """SQL: how many rows meet `condition`."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _met(hours: Any, limit: float) -> Any:
    return _total(hours <= literal(limit))


def rebuild(conn: Connection, targets: Targets) -> None:
    """Recount the table from the tickets' stored durations under `targets`."""
    conn.execute(delete(deadline_counts))
    t = tickets.c
    hour = hour_of(t.created_at)
    for priority, target in targets.items():
        conn.execute(
            insert(deadline_counts).from_select(
                ["priority", "hour", *AMOUNTS],
                select(
                    literal(priority.value),
                    hour,
                    func.count(),
                    _met(t.first_response_hours, limit_hours(target.first_response_hours)),
                    _met(t.resolution_hours, limit_hours(target.resolution_hours)),
                )
                .where(t.priority == priority.value)
                .group_by(hour),
            )
        )


def _whole_hours(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The whole hours inside [start, end): [first hour boundary >= start, last <= end)."""
    floor_start = start.replace(minute=0, second=0, microsecond=0)
    first = floor_start if floor_start == start else floor_start + timedelta(hours=1)
    return first, max(first, end.replace(minute=0, second=0, microsecond=0))


def _count(
    conn: Connection, priority: Priority, met: str, limit: float, start: datetime, end: datetime
) -> tuple[int, int]:
    """(tickets, met) of `priority` created in [start, end): whole hours from the table, the
    partial hours at either end from the tickets (ix_tickets_created_at_id)."""
    if end <= start:
        return 0, 0
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first, last = _whole_hours(start, end)
    d, t = deadline_counts.c, tickets.c
    total = met_total = 0
    if first < last:
        row = conn.execute(
            select(func.coalesce(func.sum(d.tickets), 0), func.coalesce(func.sum(d[met]), 0)).where(
                d.priority == priority.value, d.hour >= hour_key(first), d.hour < hour_key(last)
            )
        ).one()
        total, met_total = int(row[0]), int(row[1])
        edges = [(start, first), (last, end)]
    else:
        edges = [(start, end)]
    hours = t.first_response_hours if met == "first_met" else t.resolution_hours
    for low, high in edges:
        if low < high:
            # The priority is tested per row, not in WHERE: given an equality on an indexed
            # column, SQLite (without statistics) walks every ticket of that priority.
            mine = t.priority == priority.value
            row = conn.execute(
                select(_total(mine), _total(and_(mine, hours <= literal(limit)))).where(
                    t.created_at >= low, t.created_at < high
                )
            ).one()
            total, met_total = total + int(row[0]), met_total + int(row[1])
    return total, met_total


def shares(
    conn: Connection, targets: Targets, start: datetime, end: datetime
) -> tuple[tuple[int, int], tuple[int, int]]:
    """((first-response deadlines met, due), (resolution deadlines met, due)) for the deadlines
    in [start, end)."""
    totals = {"first_met": [0, 0], "resolution_met": [0, 0]}  # [met, due]
    for priority, target in targets.items():
        for met_column, allowed in (
            ("first_met", target.first_response_hours),
            ("resolution_met", target.resolution_hours),
        ):
            due_in = timedelta(hours=allowed)
            due, met = _count(
                conn, priority, met_column, limit_hours(allowed), start - due_in, end - due_in
            )
            totals[met_column][0] += met
            totals[met_column][1] += due
    (first_met, first_due), (resolution_met, resolution_due) = totals.values()
    return (first_met, first_due), (resolution_met, resolution_due)
