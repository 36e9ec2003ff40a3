"""SQL for the dashboard. Counts and means read the counter tables only, so their cost does not
grow with the number of tickets (see counters.py for how they are kept); medians read a
per-day histogram of durations, then sort the tickets of one bucket; SLA shares read
deadline_counts (per creation hour); the missed deadlines come from indexes ordered by the
stored durations, `limit` rows each; the most overdue read partial indexes over the open
tickets, `limit` rows each; open tickets per assignee read assignee_counts, and the partial
indexes only for the tickets filed within their targets.

Definitions (also in the README). A period is a run of whole UTC days, [start, end).
- open tickets: tickets whose status is Open or In Progress; at a moment in the past:
  open now - created since + closes since - reopens since;
- first response: creation to `first_response_at`, counted on the day it happened;
- resolution: creation to the latest change to Closed, for the tickets Closed now, counted on
  the day of that close;
- a median of an even count is the mean of the two middle values;
- SLA: see sla.py for deadlines; `sla_achievement` counts the deadlines that fell in a window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Row, case, func, literal, select

from . import deadline_counts
from .counters import MEASURED, UNASSIGNED
from .domain import Priority, Status
from .schema import (
    assignee_counts,
    daily_activity,
    duration_counts,
    ticket_counts,
    tickets,
)
from .sla import Targets, limit_hours


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


@dataclass(frozen=True)
class AssigneeLoad:
    assignee: str | None  # None: unassigned
    open: int  # tickets Open or In Progress now
    past_target: int  # of which past a deadline (see overdue_open)


# Open tickets fall in two groups, each read from a partial index of its own (schema.py):
# the unanswered ones (late past the first-response target) and the answered ones still
# open (late past the resolution target). closed_at is None exactly when a ticket is not
# Closed; first_response_at is None only while a ticket never left Open.
def _unanswered() -> Any:
    return tickets.c.first_response_at.is_(None)


def _open_answered() -> tuple[Any, Any]:
    return tickets.c.closed_at.is_(None), tickets.c.first_response_at.is_not(None)


def open_by_assignee(conn: Connection, targets: Targets, now: datetime) -> list[AssigneeLoad]:
    """Open tickets per assignee (and how many are past a deadline), most first, the
    unassigned ones (None) last among equals. The open counts come from assignee_counts;
    past a deadline are all but the open tickets filed after their priority's cut, which
    the partial indexes give as short ranges (their number grows with the tickets filed
    within the targets, not with the backlog)."""
    a, t = assignee_counts.c, tickets.c
    open_counts = conn.execute(
        select(a.assignee, func.sum(a.tickets))
        .where(a.status != Status.CLOSED.value)
        .group_by(a.assignee)
    ).all()
    first, resolution = _hours(targets)
    within: Counter[str] = Counter()  # open tickets not past a deadline, per assignee
    who = func.coalesce(t.assignee, literal(UNASSIGNED))
    for priority in targets:
        resolution_cut = now - timedelta(hours=resolution[priority])
        first_cut = now - timedelta(hours=first[priority])
        for where, cut in (
            ((_unanswered(),), max(first_cut, resolution_cut)),
            (_open_answered(), resolution_cut),
        ):
            query = (
                select(who, func.count())
                .where(*where, t.priority == priority.value, t.created_at >= cut)
                .group_by(who)
            )
            within.update({name: int(n) for name, n in conn.execute(query)})
    loads = [
        AssigneeLoad(name or None, int(n), int(n) - within[name]) for name, n in open_counts if n
    ]
    return sorted(loads, key=lambda load: (-load.open, load.assignee is None, load.assignee or ""))


def _hours(targets: Targets) -> tuple[dict[Priority, float], dict[Priority, float]]:
    """({priority: first-response hours}, {priority: resolution hours})."""
    return (
        {p: x.first_response_hours for p, x in targets.items()},
        {p: x.resolution_hours for p, x in targets.items()},
    )


def median_hours(conn: Connection, measure: str, first: date, last: date) -> float | None:
    """Median of the hours to the first response (measure FIRST_RESPONSE) or to the latest
    close of the tickets Closed now (RESOLUTION) that happened on the UTC days first..last;
    of an even count, the mean of the two middle values. Exact, at a cost that depends on
    the days and the buckets, not on the tickets: the day histogram (duration_counts) says
    which bucket holds each middle rank, and only that bucket's tickets are sorted."""
    d = duration_counts.c
    per_bucket = conn.execute(
        select(d.bucket, func.sum(d.tickets))
        .where(d.measure == measure, d.day >= first.isoformat(), d.day <= last.isoformat())
        .group_by(d.bucket)
        .order_by(d.bucket)
    ).all()
    n = sum(int(count) for _, count in per_bucket)
    if n == 0:
        return None
    moment, hours, bucket = MEASURED[measure]
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)

    def value_at(rank: int) -> float:
        below = 0
        for number, count in per_bucket:
            if rank < below + int(count):
                query = (
                    select(hours)
                    .where(bucket == number, moment >= start, moment < end)
                    .order_by(hours)
                    .limit(1)
                    .offset(rank - below)
                )
                return float(conn.execute(query).scalar_one())
            below += int(count)
        raise AssertionError("rank beyond the histogram")  # pragma: no cover

    if n % 2:
        return value_at(n // 2)
    return (value_at(n // 2 - 1) + value_at(n // 2)) / 2


@dataclass(frozen=True)
class Share:
    """`met` of `total` deadlines; percent is None when there were none."""

    met: int
    total: int

    @property
    def percent(self) -> float | None:
        return None if self.total == 0 else 100.0 * self.met / self.total

    @property
    def missed(self) -> int:
        return self.total - self.met


@dataclass(frozen=True)
class SlaAchievement:
    first_response: Share
    resolution: Share


def sla_achievement(
    conn: Connection, targets: Targets, start: datetime, end: datetime
) -> SlaAchievement:
    """The first-response and resolution deadlines that fell in [start, end), and how many of
    them were met (see sla.py). Callers pass end <= now: a deadline still ahead is not decided.
    `targets` must be the stored ones: deadline_counts is kept for those."""
    if end <= start:
        return SlaAchievement(Share(0, 0), Share(0, 0))
    first, resolution = deadline_counts.shares(conn, targets, start, end)
    return SlaAchievement(Share(*first), Share(*resolution))


SLA_COLUMNS = (
    tickets.c.id,
    tickets.c.priority,
    tickets.c.status,
    tickets.c.assignee,
    tickets.c.created_at,
    tickets.c.first_response_at,
    tickets.c.closed_at,
)


def overdue_open(conn: Connection, targets: Targets, now: datetime, limit: int) -> list[Row[Any]]:
    """The `limit` Open or In Progress tickets furthest past a deadline at `now`. Targets have
    first response <= resolution, so an unanswered ticket is late the longest for its first
    response: per priority, the oldest unanswered ones past it and the oldest answered open
    ones past the resolution target are the candidates (each read in index order)."""
    t = tickets.c
    first, resolution = _hours(targets)
    candidates: list[tuple[float, int]] = []
    for priority in targets:
        for where, target in (
            ((_unanswered(),), first[priority]),
            (_open_answered(), resolution[priority]),
        ):
            cut = now - timedelta(hours=target)
            query = (
                select(t.id, t.created_at)
                .where(*where, t.priority == priority.value, t.created_at < cut)
                .order_by(t.created_at, t.id)
                .limit(limit)
            )
            candidates += [((cut - at).total_seconds(), i) for i, at in conn.execute(query)]
    worst = [i for _, i in sorted(candidates, key=lambda c: (-c[0], c[1]))[:limit]]
    return _rows_in_order(conn, worst)


CREATION_SCAN_MAX = 12_000
"""missed_in reads a window of creation times ticket by ticket when it holds about this
many tickets or fewer (by daily_activity); a longer one is read most-late-first, which finds the
latest quickly when the window holds a good share of the late tickets (and slowly when a
short window holds few of them: a day's window at 1M tickets took 60-100 ms that way)."""


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
    t = tickets.c
    windows = [
        (priority, hours, target_hours, timedelta(hours=target_hours))
        for priority, target in targets.items()
        for hours, target_hours in (
            (t.first_response_hours, target.first_response_hours),
            (t.resolution_hours, target.resolution_hours),
        )
    ]
    created = _created_per_day(
        conn, min(start - due for *_, due in windows), max(end - due for *_, due in windows)
    )
    late: dict[int, float] = {}
    for priority, hours, target_hours, due in windows:
        low, high = start - due, end - due
        if by_creation is None:
            by_creation_here = _created_between(created, low, high) <= CREATION_SCAN_MAX
        else:
            by_creation_here = by_creation
        if by_creation_here:
            # One term that no index serves: SQLite, without statistics, would otherwise
            # walk every ticket of the priority, or every late one, instead of the window.
            is_late = case((t.priority == priority.value, hours)) > limit_hours(target_hours)
            where = [is_late]
        else:
            where = [t.priority == priority.value, hours > limit_hours(target_hours)]
        query = (
            select(t.id, hours)
            .where(*where, t.created_at >= low, t.created_at < high)
            .order_by(hours.desc(), t.id)
            .limit(limit)
        )
        for ticket_id, taken in conn.execute(query):
            late[ticket_id] = max(late.get(ticket_id, 0.0), taken - target_hours)
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
