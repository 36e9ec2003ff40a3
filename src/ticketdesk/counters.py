"""The counter tables: kept in step by every write (same transaction), or rebuilt from the
tickets and events in one pass (after a bulk load, by `ticketdesk recount`, and by the tests
that check the two always agree)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .domain import EventKind, Status
from .schema import daily_activity, desk_revision, ticket_counts, ticket_events, tickets
from .sqlfunctions import day_of, hours_between


def day_key(moment: datetime | date | str) -> str:
    """The UTC day of `moment` as 'YYYY-MM-DD' (a string is taken to be one already)."""
    if isinstance(moment, str):
        return moment
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).date().isoformat()
    return moment.isoformat()


def hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _add(conn: Connection, table: Table, key: dict[str, Any], amounts: dict[str, Any]) -> None:
    """Add `amounts` to the row at `key`, creating it at zero first (an upsert)."""
    _add_many(conn, table, tuple(key), tuple(amounts), [{**key, **amounts}])


def _add_many(
    conn: Connection,
    table: Table,
    keys: tuple[str, ...],
    amounts: tuple[str, ...],
    rows: list[dict[str, Any]],
) -> None:
    """The same upsert for many rows, as one executemany."""
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
    """Add many (day, status, priority) -> tickets amounts at once (bulk loads)."""
    rows = [
        {"created_day": d, "status": s, "priority": p, "tickets": n}
        for (d, s, p), n in counts.items()
    ]
    if rows:
        _add_many(conn, ticket_counts, ("created_day", "status", "priority"), ("tickets",), rows)


def add_activities(conn: Connection, days: dict[str, dict[str, float]]) -> None:
    """Add many days' activity amounts at once (bulk loads)."""
    rows = [
        {"day": day, **{c: amounts.get(c, 0) for c in ACTIVITY_COLUMNS}}
        for day, amounts in days.items()
    ]
    if rows:
        _add_many(conn, daily_activity, ("day",), ACTIVITY_COLUMNS, rows)


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
    """Recount both counter tables from the tickets and their events."""
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
    bump_revision(conn)


def _per_day(moment: Any, *conditions: Any, **measures: Any) -> Any:
    day = day_of(moment).label("day")
    query = select(day, *(m.label(name) for name, m in measures.items()))
    return query.where(*conditions).group_by(day) if conditions else query.group_by(day)
