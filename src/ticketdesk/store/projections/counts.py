"""The counter tables: kept in step by every write (same transaction), or rebuilt from the
tickets and events in one pass (after a bulk load, by `ticketdesk recount`, and by the tests
that check the two always agree)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    SmallInteger,
    Table,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
)

from ticketdesk.domain.durations import BUCKETS_PER_BAND, day_key
from ticketdesk.domain.tickets import EventKind, Status
from ticketdesk.store.projections.upsert import add_many
from ticketdesk.store.schema import (
    MEASURED,
    UNASSIGNED,
    assignee_counts,
    daily_activity,
    duration_bands,
    duration_counts,
    ticket_counts,
    ticket_events,
    tickets,
)
from ticketdesk.store.sqlfunctions import day_of, hours_between


def add_durations(conn: Connection, amounts: dict[tuple[str, str, int], int]) -> None:
    """Add (measure, day, bucket) -> tickets amounts to the duration histogram and its bands."""
    bands: dict[tuple[str, str, int], int] = {}
    for (m, d, b), n in amounts.items():
        band = (m, d, b // BUCKETS_PER_BAND)
        bands[band] = bands.get(band, 0) + n
    for table, column, added in (
        (duration_counts, "bucket", amounts),
        (duration_bands, "band", bands),
    ):
        rows = [
            {"measure": m, "day": d, column: b, "tickets": n}
            for (m, d, b), n in added.items()
            if n != 0
        ]
        add_many(conn, table, ("measure", "day", column), ("tickets",), rows)


def _add(conn: Connection, table: Table, key: dict[str, Any], amounts: dict[str, Any]) -> None:
    """Add `amounts` to the row at `key`, creating it at zero first (an upsert)."""
    add_many(conn, table, tuple(key), tuple(amounts), [{**key, **amounts}])


ACTIVITY_COLUMNS = (
    "created",
    "closes",
    "reopens",
    "first_responses",
    "first_response_hours",
    "resolutions",
    "resolution_hours",
)


def add_counts(conn: Connection, counts: dict[tuple[str, str, str], int]) -> None:
    """Add many (day, status, priority) -> tickets amounts at once."""
    rows = [
        {"created_day": d, "status": s, "priority": p, "tickets": n}
        for (d, s, p), n in counts.items()
        if n != 0
    ]
    if rows:
        add_many(conn, ticket_counts, ("created_day", "status", "priority"), ("tickets",), rows)


def add_activities(conn: Connection, days: dict[str, dict[str, float]]) -> None:
    """Add many days' activity amounts at once."""
    rows = [
        {"day": day, **{c: amounts.get(c, 0) for c in ACTIVITY_COLUMNS}}
        for day, amounts in days.items()
    ]
    if rows:
        add_many(conn, daily_activity, ("day",), ACTIVITY_COLUMNS, rows)


def add_assignee_counts(conn: Connection, counts: dict[tuple[str | None, str], int]) -> None:
    """Add many (assignee or None, status) -> tickets amounts at once."""
    rows = [
        {"assignee": a or UNASSIGNED, "status": s, "tickets": n}
        for (a, s), n in counts.items()
        if n != 0
    ]
    if rows:
        add_many(conn, assignee_counts, ("assignee", "status"), ("tickets",), rows)


def count_ticket(
    conn: Connection, created: datetime | str, status: str, priority: str, n: int
) -> None:
    key = {"created_day": day_key(created), "status": status, "priority": priority}
    _add(conn, ticket_counts, key, {"tickets": n})


def add_activity(conn: Connection, day: datetime | str, **amounts: float) -> None:
    _add(conn, daily_activity, {"day": day_key(day)}, amounts)


def rebuild_assignee_counts(conn: Connection) -> None:
    """Recount assignee_counts from the tickets."""
    conn.execute(delete(assignee_counts))
    who = func.coalesce(tickets.c.assignee, literal(UNASSIGNED))
    conn.execute(
        insert(assignee_counts).from_select(
            ["assignee", "status", "tickets"],
            select(who, tickets.c.status, func.count()).group_by(who, tickets.c.status),
        )
    )


def rebuild_durations(conn: Connection) -> None:
    """Recount the duration histogram from the tickets' stored durations, and its bands."""
    conn.execute(delete(duration_counts))
    conn.execute(delete(duration_bands))
    for measure, (moment, _, bucket) in MEASURED.items():
        day = day_of(moment)
        conn.execute(
            insert(duration_counts).from_select(
                ["measure", "day", "bucket", "tickets"],
                select(literal(measure), day, bucket, func.count())
                .where(moment.is_not(None))
                .group_by(day, bucket),
            )
        )
    d = duration_counts.c
    # A literal, not a bound parameter: PostgreSQL takes `bucket / $1` in the select list and
    # `bucket / $2` in GROUP BY for different expressions.
    band = d.bucket // literal_column(str(BUCKETS_PER_BAND), SmallInteger)
    conn.execute(
        insert(duration_bands).from_select(
            ["measure", "day", "band", "tickets"],
            select(d.measure, d.day, band, func.sum(d.tickets)).group_by(d.measure, d.day, band),
        )
    )


def rebuild_counts(conn: Connection) -> None:
    """Recount ticket_counts and daily_activity (the tables of migration 0002, which calls
    this on the tickets of that time)."""
    conn.execute(delete(ticket_counts))
    conn.execute(delete(daily_activity))
    created_day = day_of(tickets.c.created_at)
    conn.execute(
        insert(ticket_counts).from_select(
            ["created_day", "status", "priority", "tickets"],
            select(created_day, tickets.c.status, tickets.c.priority, func.count()).group_by(
                created_day, tickets.c.status, tickets.c.priority
            ),
        )
    )
    is_status = ticket_events.c.kind == EventKind.STATUS.value
    parts = [
        _per_day(tickets.c.created_at, created=func.count()),
        _per_day(
            ticket_events.c.occurred_at,
            is_status,
            ticket_events.c.new_value == Status.CLOSED.value,
            closes=func.count(),
        ),
        _per_day(
            ticket_events.c.occurred_at,
            is_status,
            ticket_events.c.old_value == Status.CLOSED.value,
            reopens=func.count(),
        ),
        _per_day(
            tickets.c.first_response_at,
            tickets.c.first_response_at.is_not(None),
            first_responses=func.count(),
            first_response_hours=func.sum(
                hours_between(tickets.c.created_at, tickets.c.first_response_at)
            ),
        ),
        _per_day(
            tickets.c.closed_at,
            tickets.c.closed_at.is_not(None),
            resolutions=func.count(),
            resolution_hours=func.sum(hours_between(tickets.c.created_at, tickets.c.closed_at)),
        ),
    ]
    for part in parts:
        for row in conn.execute(part):
            values = dict(row._mapping)
            day = values.pop("day")
            _add(conn, daily_activity, {"day": day}, values)


def _per_day(moment: Any, *conditions: Any, **measures: Any) -> Any:
    day = day_of(moment).label("day")
    query = select(day, *(m.label(name) for name, m in measures.items()))
    return query.where(*conditions).group_by(day) if conditions else query.group_by(day)
