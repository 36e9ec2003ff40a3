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
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Float,
    Row,
    Select,
    Subquery,
    bindparam,
    case,
    func,
    select,
    union_all,
)

from ticketdesk.domain.sla import Targets, limit_hours
from ticketdesk.domain.tickets import Priority, Status, day_start
from ticketdesk.store.schema import (
    MEASURED,
    OPEN_TICKET_GROUPS,
    UNASSIGNED,
    assignee_counts,
    daily_activity,
    duration_counts,
    tickets,
)
from ticketdesk.store.sqlfunctions import hours_between


@dataclass(frozen=True)
class AssigneeLoad:
    assignee: str | None  # None: unassigned
    open: int  # tickets Open or In Progress now
    past_target: int  # of which past a deadline (see overdue_open)


# Open tickets fall in two groups (schema.OPEN_TICKET_GROUPS), each read from partial indexes
# of its own, whose condition a query repeats: the unanswered ones (late past the
# first-response target) and the answered ones still open (late past the resolution target).
MOMENT = tickets.c.created_at.type
Parts = tuple[tuple[str, str], ...]
"""(priority, open group) of each part of a UNION ALL, in order."""


def _open_parts(targets: Targets) -> Parts:
    return tuple((priority.value, group) for priority in targets for group in OPEN_TICKET_GROUPS)


@lru_cache(maxsize=16)
def _within_targets_statement(parts: Parts) -> CompoundSelect[Any]:
    """(assignee, tickets) of part n's open tickets created at or after cut_n, per assignee
    named in `names` and for the unassigned (None); each one a range of the partial indexes
    by assignee (schema.py), so nothing is sorted."""
    t = tickets.c
    selects = []
    for n, (priority, group) in enumerate(parts):
        where = (
            OPEN_TICKET_GROUPS[group],
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


def _worst_first(late: Subquery, limit: int) -> Select[Any]:
    """The SLA columns of the `limit` tickets of `late` (id, hours late) latest first."""
    return (
        select(*SLA_COLUMNS)
        .join_from(tickets, late, tickets.c.id == late.c.id)
        .order_by(late.c.late.desc(), tickets.c.id)
        .limit(limit)
    )


@lru_cache(maxsize=16)
def _most_overdue_statement(parts: Parts, limit: int) -> Select[Any]:
    """The `limit` tickets furthest past cut_n among each part n's `limit` oldest open tickets
    created before cut_n (each read in index order)."""
    t = tickets.c
    selects = []
    for n, (priority, group) in enumerate(parts):
        cut = bindparam(f"cut_{n}", type_=MOMENT)
        oldest = (
            select(t.id, t.created_at)
            .where(OPEN_TICKET_GROUPS[group], t.priority == priority, t.created_at < cut)
            .order_by(t.created_at, t.id)
            .limit(limit)
            .subquery()
        )
        selects.append(select(oldest.c.id, hours_between(oldest.c.created_at, cut).label("late")))
    return _worst_first(union_all(*selects).subquery(), limit)


def overdue_open(conn: Connection, targets: Targets, now: datetime, limit: int) -> list[Row[Any]]:
    """The `limit` Open or In Progress tickets furthest past a deadline at `now`, the most
    overdue first. Targets have first response <= resolution, so an unanswered ticket is late
    the longest for its first response: per priority, the oldest unanswered ones past it and
    the oldest answered open ones past the resolution target are the candidates."""
    parts = _open_parts(targets)
    cuts = {}
    for n, (priority, group) in enumerate(parts):
        target = targets[Priority(priority)]
        hours = target.first_response_hours if group == "unanswered" else target.resolution_hours
        cuts[f"cut_{n}"] = now - timedelta(hours=hours)
    return list(conn.execute(_most_overdue_statement(parts, limit), cuts))


DAY = timedelta(days=1)
CREATION_SCAN_MAX = 12_000
"""missed_in reads a window of creation times ticket by ticket when it holds about this
many tickets or fewer (by daily_activity); a longer one is read most-late-first, which finds the
latest quickly when the window holds a good share of the late tickets (and slowly when a
short window holds few of them: a day's window at 1M tickets took 60-100 ms that way)."""


_d = duration_counts.c
_LAST_DAYS = select(
    *(
        select(func.max(_d.day)).where(_d.measure == measure).scalar_subquery()
        for measure in MEASURED
    )
)
"""Per measure (counters.MEASURED), the last day the duration histogram counts one on."""
LateParts = tuple[tuple[str, str, bool], ...]
"""(priority, duration column, read by creation) of each part of missed_in's UNION ALL."""


@lru_cache(maxsize=64)
def _latest_statement(parts: LateParts, limit: int) -> Select[Any]:
    """The `limit` tickets latest past their deadline (hours over target_n) among each part
    n's `limit` tickets of the most hours over limit_n (and at most most_n) created in
    [low_n, high_n)."""
    t = tickets.c
    selects = []
    for n, (priority, column, by_creation) in enumerate(parts):
        hours = t[column]
        over = bindparam(f"limit_{n}", type_=Float)
        most = bindparam(f"most_{n}", type_=Float)
        if by_creation:
            # One term that no index serves: SQLite, without statistics, would otherwise
            # walk every ticket of the priority, or every late one, instead of the window.
            where = [case((t.priority == priority, hours)) > over, hours <= most]
        else:
            where = [t.priority == priority, hours > over, hours <= most]
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
        over_target = latest.c[column] - bindparam(f"target_{n}", type_=Float)
        selects.append(select(latest.c.id, over_target.label("late")))
    late = union_all(*selects).subquery()
    # A ticket late for both deadlines counts by the later one.
    worst = select(late.c.id, func.max(late.c.late).label("late")).group_by(late.c.id)
    return _worst_first(worst.subquery(), limit)


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
    # No first response (close) came after the end of the last day the histogram counts
    # one on, so a ticket created at `low` took at most that long: reading most-late-first
    # starts there, not at the tickets of years ago that took longer.
    ends = {}  # per hours column; none where no ticket has that measure yet
    for (_, hours, _), day in zip(MEASURED.values(), conn.execute(_LAST_DAYS).one(), strict=True):
        if day is not None:
            ends[hours.name] = day_start(date.fromisoformat(day) + DAY)
    parts = []
    bounds: dict[str, object] = {}
    for n, (priority, column, target_hours, due) in enumerate(windows):
        low, high = start - due, end - due
        if by_creation is None:
            by_creation_here = _created_between(created, low, high) <= CREATION_SCAN_MAX
        else:
            by_creation_here = by_creation
        parts.append((priority, column, by_creation_here))
        last = ends.get(column)
        bounds |= {
            f"most_{n}": 0.0 if last is None else (last - low) / timedelta(hours=1),
            f"limit_{n}": limit_hours(target_hours),
            f"target_{n}": target_hours,
            f"low_{n}": low,
            f"high_{n}": high,
        }
    return list(conn.execute(_latest_statement(tuple(parts), limit), bounds))


def _created_per_day(conn: Connection, start: datetime, end: datetime) -> dict[date, int]:
    """Tickets created per UTC day, for the days that [start, end) touches."""
    a = daily_activity.c
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    rows = conn.execute(
        select(a.day, a.created).where(a.day >= first.isoformat(), a.day <= last.isoformat())
    )
    return {date.fromisoformat(day): int(n) for day, n in rows}


def _created_between(created: Mapping[date, int], start: datetime, end: datetime) -> float:
    """About how many tickets were created in [start, end): the whole days' counts, and the
    two end days' prorated by the share of them the window covers."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0.0
    first, last = start.date(), end.date()
    if first == last:
        return created.get(first, 0) * ((end - start) / DAY)
    after_first = day_start(first + DAY)
    total = created.get(first, 0) * ((after_first - start) / DAY)
    total += created.get(last, 0) * ((end - day_start(last)) / DAY)
    return total + sum(n for day, n in created.items() if first < day < last)
