"""The counter tables: kept in step by every write (same transaction), or rebuilt from the
tickets and events in one pass (after a bulk load, by `ticketdesk recount`, and by the tests
that check the two always agree)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
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
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from .domain import EventKind, Status
from .schema import (
    assignee_counts,
    daily_activity,
    desk_revision,
    duration_bands,
    duration_counts,
    ticket_counts,
    ticket_events,
    tickets,
)
from .sqlfunctions import day_of, hours_between


def day_key(moment: datetime | date | str) -> str:
    """The UTC day of `moment` as 'YYYY-MM-DD' (a string is taken to be one already)."""
    if isinstance(moment, str):
        return moment
    if isinstance(moment, datetime):
        if moment.tzinfo is not UTC:  # astimezone costs as much as the rest; seeding calls
            moment = moment.astimezone(UTC)  # this for every ticket and every event
        return moment.date().isoformat()
    return moment.isoformat()


def hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


BUCKETS_PER_E = 24
"""Duration buckets grow geometrically: each is e^(1/24), about 4.3 %, wider than the one
below it. Bucket 0 holds everything under a second, bucket 1 starts at one second."""
FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"
MEASURED = {
    FIRST_RESPONSE: (
        tickets.c.first_response_at,
        tickets.c.first_response_hours,
        tickets.c.first_response_bucket,
    ),
    RESOLUTION: (tickets.c.closed_at, tickets.c.resolution_hours, tickets.c.resolution_bucket),
}
"""Per measure: the tickets' columns of the moment it ended, its hours and its bucket."""


BUCKETS_PER_BAND = 8
"""duration_bands sums the buckets 8b..8b+7 of a day as band b (each band e^(1/3), about
40 %, wider than the one below it)."""


def duration_bucket(hours: float) -> int:
    seconds = hours * 3600
    return 0 if seconds < 1 else 1 + math.floor(BUCKETS_PER_E * math.log(seconds))


def duration_columns(
    created: datetime, first_response_at: datetime | None, closed_at: datetime | None
) -> dict[str, Any]:
    """The tickets row's stored durations for these moments (see schema.tickets)."""
    first = None if first_response_at is None else hours(created, first_response_at)
    resolution = None if closed_at is None else hours(created, closed_at)
    return {
        "first_response_hours": first,
        "first_response_bucket": None if first is None else duration_bucket(first),
        "resolution_hours": resolution,
        "resolution_bucket": None if resolution is None else duration_bucket(resolution),
    }


def duration_key(measure: str, moment: datetime, hours: float) -> tuple[str, str, int]:
    """The duration histogram's row for a `measure` that took `hours` and ended at `moment`."""
    return measure, day_key(moment), duration_bucket(hours)


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


def add_many(
    conn: Connection,
    table: Table,
    keys: tuple[str, ...],
    amounts: tuple[str, ...],
    rows: list[dict[str, Any]],
) -> None:
    """The same upsert for many rows, as one executemany (nothing for no rows). Rows go in
    key order, so two transactions lock the rows they share in the same order (PostgreSQL
    would otherwise find a deadlock when two tickets move opposite ways)."""
    if not rows:
        return
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: table.c[name] + statement.excluded[name] for name in amounts},
        ),
        rows,
    )


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


UNASSIGNED = ""
"""assignee_counts' key for the tickets without an assignee (no name is empty)."""


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


def bump_revision(conn: Connection) -> int:
    return int(
        conn.execute(
            update(desk_revision)
            .where(desk_revision.c.id == 1)
            .values(revision=desk_revision.c.revision + 1)
            .returning(desk_revision.c.revision)
        ).scalar_one()
    )


def current_revision(conn: Connection) -> int:
    query = select(desk_revision.c.revision).where(desk_revision.c.id == 1)
    return int(conn.execute(query).scalar_one())


def rebuild(conn: Connection) -> None:
    """Recount the counter tables from the tickets and their events."""
    # Imported here: deadline_counts builds on this module, and sla on both.
    from . import deadline_counts, sla

    rebuild_counts(conn)
    rebuild_assignee_counts(conn)
    rebuild_durations(conn)
    deadline_counts.rebuild(conn, sla.load_targets(conn, for_share=True))
    bump_revision(conn)


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
