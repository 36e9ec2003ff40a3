"""SLA shares without reading a period's tickets: per creation hour and priority, how many
tickets were filed and how many met their first-response and resolution targets (the
targets stored now; see sla.py), and the same summed per creation day (deadline_days). Kept
in the same transaction as every change, rebuilt from the tickets' stored durations when the
targets change, and read by `shares`, which adds the whole days of a window from the day
table, the whole hours around them from the hour table, and counts only its partial edge
hours from the tickets. A deadline falls in [start, end) exactly when its ticket was created in
[start - target, end - target), so a window of deadlines is a window of creation times."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    delete,
    func,
    insert,
    literal,
    select,
)

from ticketdesk.domain.durations import hour_key, hours
from ticketdesk.domain.sla import Targets, limit_hours
from ticketdesk.domain.tickets import Priority, Ticket
from ticketdesk.store.projections.upsert import add_many
from ticketdesk.store.schema import DEADLINE_HOURS, deadline_counts, deadline_days, tickets
from ticketdesk.store.sqlfunctions import count_where, hour_of

AMOUNTS = ("tickets", "first_met", "resolution_met")


class Standing(NamedTuple):
    """What one ticket adds to the table: its (priority, hour) row and its amounts."""

    priority: str
    hour: str
    first_met: int
    resolution_met: int


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


def merge_tally(into: Tally, more: Tally) -> None:
    """Add the amounts of `more` to `into`, in place."""
    for key, amounts in more.items():
        mine = into.setdefault(key, [0] * len(amounts))
        for i, amount in enumerate(amounts):
            mine[i] += amount


def add(conn: Connection, gone: Iterable[Standing] = (), came: Iterable[Standing] = ()) -> None:
    """Take the `gone` contributions out of the table and put the `came` ones in."""
    add_tally(conn, tally(gone, came))


def add_tally(conn: Connection, amounts: Tally) -> None:
    """Add `amounts` to the table and to its sums per day (deadline_days)."""
    per_day: Tally = defaultdict(lambda: [0, 0, 0])
    for (priority, hour), row in amounts.items():
        sums = per_day[(priority, hour[:10])]
        for i, amount in enumerate(row):
            sums[i] += amount
    for table, key, rows in (
        (deadline_counts, "hour", amounts),
        (deadline_days, "day", per_day),
    ):
        changed = [
            {"priority": priority, key: when, **dict(zip(AMOUNTS, row, strict=True))}
            for (priority, when), row in rows.items()
            if any(row)
        ]
        add_many(conn, table, ("priority", key), AMOUNTS, changed)


def _met(hours: Any, limit: float) -> Any:
    return count_where(hours <= literal(limit))


def rebuild(conn: Connection, targets: Targets) -> None:
    """Recount the table from the tickets' stored durations under `targets`, and its sums per
    day from it."""
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
                    _met(DEADLINE_HOURS["first_met"], limit_hours(target.first_response_hours)),
                    _met(DEADLINE_HOURS["resolution_met"], limit_hours(target.resolution_hours)),
                )
                .where(t.priority == priority.value)
                .group_by(hour),
            )
        )
    conn.execute(delete(deadline_days))
    d = deadline_counts.c
    day = func.substr(d.hour, 1, 10)
    conn.execute(
        insert(deadline_days).from_select(
            ["priority", "day", *AMOUNTS],
            select(d.priority, day, *(func.sum(d[name]) for name in AMOUNTS)).group_by(
                d.priority, day
            ),
        )
    )
