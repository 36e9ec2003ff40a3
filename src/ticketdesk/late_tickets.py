"""SQL for the dashboard's late tickets: the Open or In Progress tickets past a deadline now
(per assignee, and the most overdue), and the tickets that met a deadline of a period late.
Open tickets are read from partial indexes (schema.py), late ones from indexes ordered by the
stored durations, `limit` rows per priority and deadline; see sla.py for the deadlines.

Each read is one UNION ALL over the priorities and deadlines, built once per shape and limit
(SQLAlchemy then reuses its compiled SQL); a read only binds the moments."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Float,
    Row,
    bindparam,
    case,
    func,
    literal_column,
    select,
    union_all,
)

from .counters import UNASSIGNED
from .domain import Priority, Status
from .schema import assignee_counts, daily_activity, tickets
from .sla import Targets, limit_hours


@dataclass(frozen=True)
class AssigneeLoad:
    assignee: str | None  # None: unassigned
    open: int  # tickets Open or In Progress now
    past_target: int  # of which past a deadline (see overdue_open)


# Open tickets fall in two groups, each read from a partial index of its own (schema.py):
# the unanswered ones (late past the first-response target) and the answered ones still
# open (late past the resolution target). closed_at is None exactly when a ticket is not
# Closed; first_response_at is None only while a ticket never left Open.
OPEN_GROUPS: dict[str, tuple[Any, ...]] = {
    "unanswered": (tickets.c.first_response_at.is_(None),),
    "answered": (tickets.c.closed_at.is_(None), tickets.c.first_response_at.is_not(None)),
}
MOMENT = tickets.c.created_at.type
Parts = tuple[tuple[str, str], ...]
"""(priority, open group) of each part of a UNION ALL, in order."""


def _open_parts(targets: Targets) -> Parts:
    return tuple((priority.value, group) for priority in targets for group in OPEN_GROUPS)


@lru_cache(maxsize=16)
def _within_targets_statement(parts: Parts) -> CompoundSelect[Any]:
    """(assignee, tickets) of part n's open tickets created at or after cut_n, per assignee
    named in `names` and for the unassigned (None); each one a range of the partial indexes
    by assignee (schema.py), so nothing is sorted."""
    t = tickets.c
    selects = []
    for n, (priority, group) in enumerate(parts):
        where = (
            *OPEN_GROUPS[group],
            t.priority == priority,
            t.created_at >= bindparam(f"cut_{n}", type_=MOMENT),
        )
        for whose in (t.assignee.in_(bindparam("names", expanding=True)), t.assignee.is_(None)):
            selects.append(
                select(t.assignee, func.count()).where(*where, whose).group_by(t.assignee)
            )
    return union_all(*selects)


def open_by_assignee(conn: Connection, targets: Targets, now: datetime) -> list[AssigneeLoad]:
    """Open tickets per assignee (and how many are past a deadline), most first, the
    unassigned ones (None) last among equals. The open counts come from assignee_counts;
    past a deadline are all but the open tickets filed after their priority's cut, which
    the partial indexes give as short ranges (their number grows with the tickets filed
    within the targets, not with the backlog)."""
    a = assignee_counts.c
    open_counts = conn.execute(
        select(a.assignee, func.sum(a.tickets))
        .where(a.status != Status.CLOSED.value)
        .group_by(a.assignee)
    ).all()
    parts = _open_parts(targets)
    bounds: dict[str, Any] = {"names": [name for name, n in open_counts if name and n]}
    for n, (priority, group) in enumerate(parts):
        target = targets[Priority(priority)]
        resolution_cut = now - timedelta(hours=target.resolution_hours)
        first_cut = now - timedelta(hours=target.first_response_hours)
        # An unanswered ticket is past a deadline once past either of them.
        unanswered = group == "unanswered"
        bounds[f"cut_{n}"] = max(first_cut, resolution_cut) if unanswered else resolution_cut
    within: Counter[str] = Counter()  # open tickets not past a deadline, per assignee
    for name, n in conn.execute(_within_targets_statement(parts), bounds):
        within[name or UNASSIGNED] += int(n)
    loads = [
        AssigneeLoad(name or None, int(n), int(n) - within[name]) for name, n in open_counts if n
    ]
    return sorted(loads, key=lambda load: (-load.open, load.assignee is None, load.assignee or ""))


SLA_COLUMNS = (
    tickets.c.id,
    tickets.c.priority,
    tickets.c.status,
    tickets.c.assignee,
    tickets.c.created_at,
    tickets.c.first_response_at,
    tickets.c.closed_at,
)


@lru_cache(maxsize=16)
def _oldest_open_statement(parts: Parts, limit: int) -> CompoundSelect[Any]:
    """(n, id, created_at) of part n's `limit` oldest open tickets created before cut_n, read
    in index order."""
    t = tickets.c
    selects = []
    for n, (priority, group) in enumerate(parts):
        oldest = (
            select(t.id, t.created_at)
            .where(
                *OPEN_GROUPS[group],
                t.priority == priority,
                t.created_at < bindparam(f"cut_{n}", type_=MOMENT),
            )
            .order_by(t.created_at, t.id)
            .limit(limit)
            .subquery()
        )
        selects.append(select(literal_column(str(n)), oldest.c.id, oldest.c.created_at))
    return union_all(*selects)


def overdue_open(conn: Connection, targets: Targets, now: datetime, limit: int) -> list[Row[Any]]:
    """The `limit` Open or In Progress tickets furthest past a deadline at `now`. Targets have
    first response <= resolution, so an unanswered ticket is late the longest for its first
    response: per priority, the oldest unanswered ones past it and the oldest answered open
    ones past the resolution target are the candidates (each read in index order)."""
    parts = _open_parts(targets)
    cuts = []
    for priority, group in parts:
        target = targets[Priority(priority)]
        hours = target.first_response_hours if group == "unanswered" else target.resolution_hours
        cuts.append(now - timedelta(hours=hours))
    rows = conn.execute(
        _oldest_open_statement(parts, limit), {f"cut_{n}": cut for n, cut in enumerate(cuts)}
    )
    candidates = [((cuts[int(n)] - at).total_seconds(), i) for n, i, at in rows]
    worst = [i for _, i in sorted(candidates, key=lambda c: (-c[0], c[1]))[:limit]]
    return _rows_in_order(conn, worst)


CREATION_SCAN_MAX = 12_000
"""missed_in reads a window of creation times ticket by ticket when it holds about this
many tickets or fewer (by daily_activity); a longer one is read most-late-first, which finds the
latest quickly when the window holds a good share of the late tickets (and slowly when a
short window holds few of them: a day's window at 1M tickets took 60-100 ms that way)."""


LateParts = tuple[tuple[str, str, bool], ...]
"""(priority, duration column, read by creation) of each part of missed_in's UNION ALL."""


@lru_cache(maxsize=64)
def _latest_statement(parts: LateParts, limit: int) -> CompoundSelect[Any]:
    """(n, id, hours) of part n's `limit` tickets of the most hours over limit_n, created in
    [low_n, high_n)."""
    t = tickets.c
    selects = []
    for n, (priority, column, by_creation) in enumerate(parts):
        hours = t[column]
        over = bindparam(f"limit_{n}", type_=Float)
        if by_creation:
            # One term that no index serves: SQLite, without statistics, would otherwise
            # walk every ticket of the priority, or every late one, instead of the window.
            where = [case((t.priority == priority, hours)) > over]
        else:
            where = [t.priority == priority, hours > over]
        latest = (
            select(t.id, hours)
            .where(
                *where,
                t.created_at >= bindparam(f"low_{n}", type_=MOMENT),
                t.created_at < bindparam(f"high_{n}", type_=MOMENT),
            )
            .order_by(hours.desc(), t.id)
            .limit(limit)
            .subquery()
        )
        selects.append(select(literal_column(str(n)), *latest.c))
    return union_all(*selects)


def missed_in(
    conn: Connection,
    targets: Targets,
    start: datetime,
    end: datetime,
    limit: int,
    by_creation: bool | None = None,
) -> list[Row[Any]]:
    """Tickets whose first response or close came after a deadline that fell in [start, end),
    the `limit` latest first. (A deadline in the window not yet met is an open ticket past it:
    see overdue_open.) Per priority and deadline, the tickets created in the window its
    deadlines imply are read in creation order (ix_tickets_created_at_id) when they are few,
    else in the order of ix_tickets_first_response_late / ix_tickets_resolution_late, most
    hours first; `by_creation` forces one way (the tests compare the two)."""
    if end <= start:
        return []
    windows = [
        (priority.value, column, target_hours, timedelta(hours=target_hours))
        for priority, target in targets.items()
        for column, target_hours in (
            ("first_response_hours", target.first_response_hours),
            ("resolution_hours", target.resolution_hours),
        )
    ]
    created = _created_per_day(
        conn, min(start - due for *_, due in windows), max(end - due for *_, due in windows)
    )
    parts = []
    bounds: dict[str, object] = {}
    for n, (priority, column, target_hours, due) in enumerate(windows):
        low, high = start - due, end - due
        if by_creation is None:
            by_creation_here = _created_between(created, low, high) <= CREATION_SCAN_MAX
        else:
            by_creation_here = by_creation
        parts.append((priority, column, by_creation_here))
        bounds |= {f"limit_{n}": limit_hours(target_hours), f"low_{n}": low, f"high_{n}": high}
    late: dict[int, float] = {}
    for n, ticket_id, taken in conn.execute(_latest_statement(tuple(parts), limit), bounds):
        late[ticket_id] = max(late.get(ticket_id, 0.0), taken - windows[int(n)][2])
    worst = sorted(late, key=lambda i: (-late[i], i))[:limit]
    return _rows_in_order(conn, worst)


def _created_per_day(conn: Connection, start: datetime, end: datetime) -> dict[date, int]:
    """Tickets created per UTC day, for the days that [start, end) touches."""
    a = daily_activity.c
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    rows = conn.execute(
        select(a.day, a.created).where(a.day >= first.isoformat(), a.day <= last.isoformat())
    )
    return {date.fromisoformat(day): int(n) for day, n in rows}


def _created_between(created: Mapping[date, int], start: datetime, end: datetime) -> float:
    """About how many tickets were created in [start, end): each day's count, prorated by
    the share of the day the window covers."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    day, total = start.date(), 0.0
    while day <= end.date():
        midnight = datetime.combine(day, time(), UTC)
        covered = min(end, midnight + timedelta(days=1)) - max(start, midnight)
        total += created.get(day, 0) * max(covered, timedelta()) / timedelta(days=1)
        day += timedelta(days=1)
    return total


def _rows_in_order(conn: Connection, ids: list[int]) -> list[Row[Any]]:
    rows: list[Row[Any]] = list(conn.execute(select(*SLA_COLUMNS).where(tickets.c.id.in_(ids))))
    order = {ticket_id: n for n, ticket_id in enumerate(ids)}
    return sorted(rows, key=lambda row: order[row.id])
