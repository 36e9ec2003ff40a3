"""SLA shares of a period, read from the deadline tables (see store.projections.deadlines)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Float,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    union_all,
)

from ticketdesk.domain.durations import day_key, hour_key
from ticketdesk.domain.sla import SlaTarget, Targets, limit_hours
from ticketdesk.store.schema import DEADLINE_HOURS, deadline_counts, deadline_days, tickets
from ticketdesk.store.sqlfunctions import count_where


def _whole_hours(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The whole hours inside [start, end): [first hour boundary >= start, last <= end)."""
    floor_start = start.replace(minute=0, second=0, microsecond=0)
    first = floor_start if floor_start == start else floor_start + timedelta(hours=1)
    return first, max(first, end.replace(minute=0, second=0, microsecond=0))


class _Window(NamedTuple):
    """The tickets of `priority` created in [start, end), and the `met` column (first_met or
    resolution_met) with the most stored hours that meet its target."""

    priority: str
    met: str
    limit: float
    start: datetime
    end: datetime

    @classmethod
    def due_in(
        cls, priority: str, met: str, target_hours: float, start: datetime, end: datetime
    ) -> _Window:
        """The tickets whose deadline, `target_hours` after their creation, is in [start, end)."""
        due = timedelta(hours=target_hours)
        return cls(priority, met, limit_hours(target_hours), start - due, end - due)


Layout = tuple[tuple[str, str], ...]
"""(priority, met column) of each part of a UNION ALL below, in order."""


@lru_cache(maxsize=64)
def _whole_hours_statement(layout: Layout) -> CompoundSelect[Any]:
    """(n, tickets, met) of each window n's whole hours: the whole days [day_n, to_day_n)
    from deadline_days, the hours before and after them, [first_n, head_n) and [tail_n,
    last_n), from deadline_counts. Built once per layout; a dashboard read only binds them."""
    return union_all(
        *(
            select(literal_column(str(n)), func.sum(table.c.tickets), func.sum(table.c[met])).where(
                table.c.priority == priority,
                table.c[key] >= bindparam(f"{low}_{n}", type_=String),
                table.c[key] < bindparam(f"{high}_{n}", type_=String),
            )
            for n, (priority, met) in enumerate(layout)
            for table, key, low, high in (
                (deadline_counts, "hour", "first", "head"),
                (deadline_days, "day", "day", "to_day"),
                (deadline_counts, "hour", "tail", "last"),
            )
        )
    )


def _hour_bounds(n: int, first: datetime, last: datetime) -> dict[str, str]:
    """The bounds _whole_hours_statement binds for window n, whose whole hours are [first, last):
    the whole UTC days inside them, and the hours before and after those days."""
    day = first if first.hour == 0 else (first + timedelta(days=1)).replace(hour=0)
    to_day = last.replace(hour=0)
    if day >= to_day:  # no whole day: all hours before an empty run of days
        day = to_day = last
    return {
        f"first_{n}": hour_key(first),
        f"head_{n}": hour_key(day),
        f"day_{n}": day_key(day),
        f"to_day_{n}": day_key(to_day),
        f"tail_{n}": hour_key(to_day),
        f"last_{n}": hour_key(last),
    }


@lru_cache(maxsize=64)
def _edge_statement(layout: Layout) -> CompoundSelect[Any]:
    """(n, tickets, met) of each partial hour n, [low_n, high_n), from the tickets
    (ix_tickets_created_at_id). The priority is tested per row, not in WHERE: given an
    equality on an indexed column, SQLite (without statistics) walks every ticket of it."""
    t = tickets.c
    moment = t.created_at.type
    parts = []
    for n, (priority, met) in enumerate(layout):
        mine = t.priority == priority
        in_time = and_(mine, DEADLINE_HOURS[met] <= bindparam(f"limit_{n}", type_=Float))
        parts.append(
            select(literal_column(str(n)), count_where(mine), count_where(in_time)).where(
                t.created_at >= bindparam(f"low_{n}", type_=moment),
                t.created_at < bindparam(f"high_{n}", type_=moment),
            )
        )
    return union_all(*parts)


def _counted(conn: Connection, windows: list[_Window]) -> list[list[int]]:
    """[tickets, met] of each window: its whole days and hours from the tables, its partial
    hours at either end from the tickets; two queries, whatever the windows."""
    hours: dict[str, str] = {}
    edges: list[tuple[int, datetime, datetime]] = []
    for n, window in enumerate(windows):
        first, last = _whole_hours(window.start, window.end)
        hours |= _hour_bounds(n, first, last)
        if first < last:
            parts = [(window.start, first), (last, window.end)]
        else:
            parts = [(window.start, window.end)]
        edges += [(n, low, high) for low, high in parts if low < high]
    counted = [[0, 0] for _ in windows]
    layout = tuple((w.priority, w.met) for w in windows)
    for n, due, met in conn.execute(_whole_hours_statement(layout), hours):
        counted[int(n)][0] += int(due or 0)
        counted[int(n)][1] += int(met or 0)
    if edges:
        bounds: dict[str, object] = {}
        for m, (n, low, high) in enumerate(edges):
            bounds |= {f"limit_{m}": windows[n].limit, f"low_{m}": low, f"high_{m}": high}
        edge_layout = tuple(layout[n] for n, _, _ in edges)
        for m, due, met in conn.execute(_edge_statement(edge_layout), bounds):
            n = edges[int(m)][0]
            counted[n] = [counted[n][0] + int(due), counted[n][1] + int(met)]
    return counted


def shares(
    conn: Connection, targets: Targets, start: datetime, end: datetime
) -> tuple[tuple[int, int], tuple[int, int]]:
    """((first-response deadlines met, due), (resolution deadlines met, due)) for the deadlines
    in [start, end): per priority and deadline, the tickets created in that window moved back
    by the target; whole hours from the table, the partial hours at either end from the
    tickets. Two queries, whatever the window."""
    if end <= start:
        return (0, 0), (0, 0)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    allowed: dict[str, Callable[[SlaTarget], float]] = {
        "first_met": lambda target: target.first_response_hours,
        "resolution_met": lambda target: target.resolution_hours,
    }
    windows = [
        _Window.due_in(priority.value, met, hours_of(target), start, end)
        for met, hours_of in allowed.items()
        for priority, target in targets.items()
    ]
    counted = _counted(conn, windows)

    def share(met: str) -> tuple[int, int]:
        mine = [c for window, c in zip(windows, counted, strict=True) if window.met == met]
        return sum(in_time for _, in_time in mine), sum(due for due, _ in mine)

    return share("first_met"), share("resolution_met")
