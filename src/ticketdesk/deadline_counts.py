"""SLA shares without reading a period's tickets: per creation hour and priority, how many
tickets were filed and how many met their first-response and resolution targets (the
targets stored now; see sla.py). Kept in the same transaction as every change, rebuilt from
the tickets' stored durations when the targets change, and read by `shares`, which adds the
whole hours of a window from this table and counts only its partial edge hours from the
tickets. A deadline falls in [start, end) exactly when its ticket was created in
[start - target, end - target), so a window of deadlines is a window of creation times."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, delete, func, insert, literal, select

from .counters import add_many, hours
from .domain import Priority, Ticket
from .schema import deadline_counts, tickets
from .sla import SlaTarget, Targets, limit_hours
from .sqlfunctions import count_where, hour_of

AMOUNTS = ("tickets", "first_met", "resolution_met")
HOURS = {"first_met": tickets.c.first_response_hours, "resolution_met": tickets.c.resolution_hours}
"""The stored duration each `met` column counts against its target."""


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


Tally = dict[tuple[str, str], list[int]]
"""(priority, hour) -> amounts in the order of AMOUNTS."""


def tally(gone: Iterable[Standing] = (), came: Iterable[Standing] = ()) -> Tally:
    """The table's change when the `gone` contributions go and the `came` ones come."""
    amounts: Tally = defaultdict(lambda: [0, 0, 0])
    for sign, items in ((-1, gone), (+1, came)):
        for item in items:
            row = amounts[(item.priority, item.hour)]
            row[0] += sign
            row[1] += sign * item.first_met
            row[2] += sign * item.resolution_met
    return dict(amounts)


def add(conn: Connection, gone: Iterable[Standing] = (), came: Iterable[Standing] = ()) -> None:
    """Take the `gone` contributions out of the table and put the `came` ones in."""
    add_tally(conn, tally(gone, came))


def add_tally(conn: Connection, amounts: Tally) -> None:
    changed = [
        {"priority": priority, "hour": hour, **dict(zip(AMOUNTS, row, strict=True))}
        for (priority, hour), row in amounts.items()
        if any(row)
    ]
    add_many(conn, deadline_counts, ("priority", "hour"), AMOUNTS, changed)


def _met(hours: Any, limit: float) -> Any:
    return count_where(hours <= literal(limit))


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
                    _met(HOURS["first_met"], limit_hours(target.first_response_hours)),
                    _met(HOURS["resolution_met"], limit_hours(target.resolution_hours)),
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
    """(tickets, met) of `priority` created in [start, end), `met` being first_met or
    resolution_met: whole hours from the table, the partial hours at either end from the
    tickets (ix_tickets_created_at_id)."""
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
    for low, high in edges:
        if low < high:
            # The priority is tested per row, not in WHERE: given an equality on an indexed
            # column, SQLite (without statistics) walks every ticket of that priority.
            mine = t.priority == priority.value
            in_time = and_(mine, HOURS[met] <= literal(limit))
            row = conn.execute(
                select(count_where(mine), count_where(in_time)).where(
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

    def share(met: str, allowed: Callable[[SlaTarget], float]) -> tuple[int, int]:
        due = met_total = 0
        for priority, target in targets.items():
            target_hours = allowed(target)
            due_in = timedelta(hours=target_hours)
            limit = limit_hours(target_hours)
            n, m = _count(conn, priority, met, limit, start - due_in, end - due_in)
            due, met_total = due + n, met_total + m
        return met_total, due

    return (
        share("first_met", lambda target: target.first_response_hours),
        share("resolution_met", lambda target: target.resolution_hours),
    )
