"""SQL for the dashboard. Counts and means read the counter tables only, so their cost does not
grow with the number of tickets (see counters.py for how they are kept); medians, SLA
achievement, breached tickets and open tickets per assignee read the tickets over an indexed
range (first_response_at, closed_at, created_at, status).

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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Float, Row, and_, case, cast, func, literal, or_, select

from .domain import Priority, Status
from .schema import UTCDateTime, daily_activity, ticket_counts, tickets
from .sla import TOLERANCE_HOURS, Targets
from .sqlfunctions import hours_between

OPEN_STATUSES = (Status.OPEN.value, Status.IN_PROGRESS.value)


def elapsed(start: Any, end: Any) -> Any:
    """SQL: hours from `start` to `end` as a float (PostgreSQL's EXTRACT gives a numeric,
    which sorts four times slower)."""
    return cast(hours_between(start, end), Float)


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
    past_target: int  # of which past a deadline (see past_deadline)


def past_deadline(targets: Targets, now: datetime) -> Any:
    """SQL: an Open or In Progress ticket is past a deadline at `now` (unanswered past its
    first-response deadline, or past its resolution deadline)."""
    t = tickets.c
    first_cut, resolution_cut = (
        _per_priority({p: now - timedelta(hours=h) for p, h in hours.items()}, UTCDateTime)
        for hours in _hours(targets)
    )
    return or_(
        t.created_at < resolution_cut, and_(t.first_response_at.is_(None), t.created_at < first_cut)
    )


def open_by_assignee(conn: Connection, targets: Targets, now: datetime) -> list[AssigneeLoad]:
    """Open tickets per assignee (and how many are past a deadline), most first, the
    unassigned ones (None) last among equals."""
    t = tickets.c
    n = func.count().label("n")
    late = func.coalesce(func.sum(case((past_deadline(targets, now), 1), else_=0)), 0)
    rows = conn.execute(
        select(t.assignee, n, late)
        .where(t.status.in_(OPEN_STATUSES))
        .group_by(t.assignee)
        .order_by(n.desc(), t.assignee.asc().nulls_last())
    )
    return [AssigneeLoad(a, int(c), int(x)) for a, c, x in rows]


def _hours(targets: Targets) -> tuple[dict[Priority, float], dict[Priority, float]]:
    """({priority: first-response hours}, {priority: resolution hours})."""
    return (
        {p: x.first_response_hours for p, x in targets.items()},
        {p: x.resolution_hours for p, x in targets.items()},
    )


def median_hours(conn: Connection, moment: Any, start: datetime, end: datetime) -> float | None:
    """Median of the hours from creation to `moment` (a tickets column) over the tickets whose
    `moment` is in [start, end); of an even count, the mean of the two middle values. Portable:
    a count, then ORDER BY ... LIMIT 1 or 2 OFFSET (n - 1) / 2 (SQLite has no percentile)."""
    in_range = (moment >= start, moment < end)
    n = int(conn.execute(select(func.count()).select_from(tickets).where(*in_range)).scalar_one())
    if n == 0:
        return None
    h = elapsed(tickets.c.created_at, moment).label("h")
    middle = select(h).where(*in_range).order_by(h).limit(2 - n % 2).offset((n - 1) // 2).subquery()
    return float(conn.execute(select(func.avg(middle.c.h))).scalar_one())


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


def _per_priority(values: Mapping[Priority, Any], type_: Any) -> Any:
    """CASE tickets.priority WHEN 'High' THEN :v1 ... END, the values bound with `type_`."""
    whens = {p.value: literal(v, type_) for p, v in values.items()}
    return case(whens, value=tickets.c.priority)


class _Deadlines:
    """SQL conditions about the deadlines of `targets` relative to [start, end)."""

    def __init__(self, targets: Targets, start: datetime, end: datetime) -> None:
        t = tickets.c
        self.first, self.resolution = _hours(targets)
        self.first_due = self._due_in(self.first, start, end)
        self.resolution_due = self._due_in(self.resolution, start, end)
        first_hours = elapsed(t.created_at, t.first_response_at)
        closing_hours = elapsed(t.created_at, t.closed_at)
        first_limit = _per_priority({p: h + TOLERANCE_HOURS for p, h in self.first.items()}, Float)
        closing_limit = _per_priority(
            {p: h + TOLERANCE_HOURS for p, h in self.resolution.items()}, Float
        )
        answered, closed = t.first_response_at.is_not(None), t.status == Status.CLOSED.value
        self.first_met = and_(self.first_due, answered, first_hours <= first_limit)
        self.first_late = and_(self.first_due, answered, first_hours > first_limit)
        self.resolution_met = and_(self.resolution_due, closed, closing_hours <= closing_limit)
        self.resolution_late = and_(self.resolution_due, closed, closing_hours > closing_limit)
        # The created_at range that holds every deadline in [start, end): one index range.
        longest, shortest = max(self.resolution.values()), min(self.first.values())
        self.created_range = (
            t.created_at >= start - timedelta(hours=longest),
            t.created_at < end - timedelta(hours=shortest),
        )

    @staticmethod
    def _due_in(hours: Mapping[Priority, float], start: datetime, end: datetime) -> Any:
        created = tickets.c.created_at
        earliest = {p: start - timedelta(hours=h) for p, h in hours.items()}
        latest = {p: end - timedelta(hours=h) for p, h in hours.items()}
        return and_(
            created >= _per_priority(earliest, UTCDateTime),
            created < _per_priority(latest, UTCDateTime),
        )


def sla_achievement(
    conn: Connection, targets: Targets, start: datetime, end: datetime
) -> SlaAchievement:
    """The first-response and resolution deadlines that fell in [start, end), and how many of
    them were met (see sla.py). Callers pass end <= now: a deadline still ahead is not decided."""
    if end <= start:
        return SlaAchievement(Share(0, 0), Share(0, 0))
    d = _Deadlines(targets, start, end)

    def total(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    conditions = (d.first_met, d.first_due, d.resolution_met, d.resolution_due)
    row = conn.execute(select(*(total(c) for c in conditions)).where(*d.created_range)).one()
    first_met, first_due, resolution_met, resolution_due = (int(v) for v in row)
    return SlaAchievement(Share(first_met, first_due), Share(resolution_met, resolution_due))


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
    """The `limit` Open or In Progress tickets furthest past a deadline at `now`."""
    t = tickets.c
    first, resolution = _hours(targets)
    unanswered = t.first_response_at.is_(None)
    # Targets have first response <= resolution, so an unanswered ticket is late the longest
    # for its first response.
    target = case((unanswered, _per_priority(first, Float)), else_=_per_priority(resolution, Float))
    overdue = elapsed(t.created_at, literal(now, UTCDateTime)) - target
    # Rank on the few columns an index over the open tickets could hold; fetch whole rows for
    # the `limit` chosen only.
    worst = (
        select(t.id)
        .where(t.status.in_(OPEN_STATUSES), past_deadline(targets, now))
        .order_by(overdue.desc(), t.id)
        .limit(limit)
        .subquery()
    )
    return list(conn.execute(select(*SLA_COLUMNS).join_from(tickets, worst, t.id == worst.c.id)))


def missed_in(
    conn: Connection, targets: Targets, start: datetime, end: datetime, limit: int
) -> list[Row[Any]]:
    """Tickets whose first response or close came after a deadline that fell in [start, end),
    the `limit` latest first. (A deadline in the window not yet met is an open ticket past it:
    see overdue_open.)"""
    if end <= start:
        return []
    d = _Deadlines(targets, start, end)
    t = tickets.c
    first_late = elapsed(t.created_at, t.first_response_at) - _per_priority(d.first, Float)
    resolution_late = elapsed(t.created_at, t.closed_at) - _per_priority(d.resolution, Float)
    late_first = case((d.first_late, first_late), else_=0.0)
    late_resolution = case((d.resolution_late, resolution_late), else_=0.0)
    latest = case((late_first > late_resolution, late_first), else_=late_resolution)
    query = (
        select(*SLA_COLUMNS)
        .where(*d.created_range, latest > 0)  # not an OR: keep SQLite on the created_at range
        .order_by(latest.desc(), t.id)
        .limit(limit)
    )
    return list(conn.execute(query))
