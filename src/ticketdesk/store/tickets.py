"""SQL for reading and writing tickets and their events. Every function takes an open
connection; the caller (a service) owns the transaction."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from ticketdesk.domain import durations
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import (
    PRIORITY_RANK,
    STATUS_RANK,
    Change,
    EventKind,
    Priority,
    Status,
    Ticket,
    TicketChange,
)
from ticketdesk.store import targets as target_store
from ticketdesk.store.projections import counts, deadlines, revision
from ticketdesk.store.schema import metadata, ticket_events, tickets

TICKET_COLUMNS = (
    tickets.c.id,
    tickets.c.issue,
    tickets.c.status,
    tickets.c.priority,
    tickets.c.created_at,
    tickets.c.updated_at,
    tickets.c.version,
    tickets.c.first_response_at,
    tickets.c.closed_at,
    tickets.c.requester,
    tickets.c.assignee,
    tickets.c.requester_id,
)


def ticket_from_row(row: Any) -> Ticket:
    return Ticket(
        id=row.id,
        issue=row.issue,
        status=Status(row.status),
        priority=Priority(row.priority),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        first_response_at=row.first_response_at,
        closed_at=row.closed_at,
        requester=row.requester,
        assignee=row.assignee,
        requester_id=row.requester_id,
    )


def insert_ticket(
    conn: Connection, issue: str, priority: Priority, now: datetime, actor: Account | None = None
) -> Ticket:
    """Store a new Open ticket, filed by `actor` (its requester), and its `created` event."""
    name, actor_id = (None, None) if actor is None else (actor.name, actor.id)
    ticket_id = conn.execute(
        insert(tickets)
        .values(
            issue=issue,
            status=Status.OPEN.value,
            priority=priority.value,
            created_at=now,
            updated_at=now,
            version=1,
            status_rank=STATUS_RANK[Status.OPEN],
            priority_rank=PRIORITY_RANK[priority],
            requester=name,
            requester_id=actor_id,
        )
        .returning(tickets.c.id)
    ).scalar_one()
    insert_events(conn, [_event(ticket_id, now, EventKind.CREATED, None, priority.value, actor, 1)])
    counts.count_ticket(conn, now, Status.OPEN, priority, +1)
    counts.add_assignee_counts(conn, {(None, Status.OPEN.value): +1})
    counts.add_activity(conn, now, created=1)
    targets = target_store.load_targets(conn, for_share=True)
    deadlines.add(conn, came=[deadlines.standing(priority.value, now, None, None, targets)])
    revision.bump_revision(conn)
    return Ticket(
        ticket_id, issue, Status.OPEN, priority, now, now, 1, requester=name, requester_id=actor_id
    )


def get_ticket(conn: Connection, ticket_id: int, for_update: bool = False) -> Ticket | None:
    """One ticket; `for_update` locks its row until the transaction ends (PostgreSQL; SQLite
    writers hold the whole database already)."""
    query = select(*TICKET_COLUMNS).where(tickets.c.id == ticket_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return None if row is None else ticket_from_row(row)


def list_tickets(conn: Connection, limit: int | None = None) -> list[Ticket]:
    """Tickets, newest first."""
    query = select(*TICKET_COLUMNS).order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [ticket_from_row(row) for row in conn.execute(query)]


def count_tickets(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tickets)).scalar_one())


def apply_change(
    conn: Connection,
    current: Ticket,
    change: TicketChange,
    now: datetime,
    actor: Account | None = None,
) -> Ticket | None:
    """Write `change` to one ticket with one event per changed field, and keep the counters in
    step. The update only applies if the ticket is still at `current.version`; returns None
    when someone changed it since."""
    new_status = Status(change.status) if change.status is not None else current.status
    new_priority = Priority(change.priority) if change.priority is not None else current.priority
    new_issue = change.issue if change.issue is not None else current.issue
    new_assignee = None if change.unassign else (change.assignee or current.assignee)
    values: dict[str, Any] = {}
    events: list[dict[str, Any]] = []

    def record(kind: EventKind, old: str | None, new: str | None) -> None:
        events.append(_event(current.id, now, kind, old, new, actor, current.version + 1))

    first_response_at, closed_at = current.first_response_at, current.closed_at
    if new_status is not current.status:
        values.update(status=new_status.value, status_rank=STATUS_RANK[new_status])
        record(EventKind.STATUS, current.status, new_status)
        if first_response_at is None and current.status is Status.OPEN:
            first_response_at = values["first_response_at"] = now
        closed_at = values["closed_at"] = now if new_status is Status.CLOSED else None
        values.update(durations.duration_columns(current.created_at, first_response_at, closed_at))
    if new_priority is not current.priority:
        values.update(priority=new_priority.value, priority_rank=PRIORITY_RANK[new_priority])
        record(EventKind.PRIORITY, current.priority, new_priority)
    if new_issue != current.issue:
        values["issue"] = new_issue
        record(EventKind.ISSUE, current.issue, new_issue)
    if new_assignee != current.assignee:
        values["assignee"] = new_assignee
        record(EventKind.ASSIGNEE, current.assignee, new_assignee)
    if not events:
        return current
    result = conn.execute(
        update(tickets)
        .where(tickets.c.id == current.id, tickets.c.version == current.version)
        .values(**values, updated_at=now, version=current.version + 1)
    )
    if result.rowcount != 1:
        return None
    insert_events(conn, events)
    updated = replace(
        current,
        issue=new_issue,
        status=new_status,
        priority=new_priority,
        updated_at=now,
        version=current.version + 1,
        first_response_at=first_response_at,
        closed_at=closed_at,
        assignee=new_assignee,
    )
    recount(conn, current, updated, now)
    revision.bump_revision(conn)
    return updated


def recount(conn: Connection, before: Ticket, after: Ticket, now: datetime) -> None:
    """Move one ticket's contribution in the counters from `before` to `after`: each counter
    table in one upsert, rows in key order (see upsert.add_many)."""
    if (before.status, before.priority) != (after.status, after.priority):
        changed: Counter[tuple[str, str, str]] = Counter()
        changed[(durations.day_key(before.created_at), before.status, before.priority)] -= 1
        changed[(durations.day_key(after.created_at), after.status, after.priority)] += 1
        counts.add_counts(conn, changed)
    if (before.assignee, before.status) != (after.assignee, after.status):
        moved: Counter[tuple[str | None, str]] = Counter()
        moved[(before.assignee, before.status.value)] -= 1
        moved[(after.assignee, after.status.value)] += 1
        counts.add_assignee_counts(conn, moved)
    days: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def on(day: datetime, **amounts: float) -> None:
        for name, amount in amounts.items():
            days[durations.day_key(day)][name] += amount

    histogram: Counter[tuple[str, str, int]] = Counter()
    if before.first_response_at is None and after.first_response_at is not None:
        taken = durations.hours(after.created_at, now)
        on(now, first_responses=1, first_response_hours=taken)
        histogram[durations.duration_key(durations.FIRST_RESPONSE, now, taken)] += 1
    if before.closed_at is not None and after.closed_at != before.closed_at:
        # Its previous close no longer counts as its resolution.
        taken = durations.hours(before.created_at, before.closed_at)
        on(before.closed_at, resolutions=-1, resolution_hours=-taken)
        histogram[durations.duration_key(durations.RESOLUTION, before.closed_at, taken)] -= 1
    if after.status is Status.CLOSED and before.status is not Status.CLOSED:
        taken = durations.hours(after.created_at, now)
        on(now, closes=1, resolutions=1, resolution_hours=taken)
        histogram[durations.duration_key(durations.RESOLUTION, now, taken)] += 1
    if before.status is Status.CLOSED and after.status is not Status.CLOSED:
        on(now, reopens=1)
    counts.add_activities(conn, {day: dict(amounts) for day, amounts in days.items()})
    counts.add_durations(conn, histogram)
    deadline_fields = ("priority", "first_response_at", "closed_at")
    if any(getattr(before, name) != getattr(after, name) for name in deadline_fields):
        targets = target_store.load_targets(conn, for_share=True)
        gone, came = (deadlines.of_ticket(t, targets) for t in (before, after))
        if gone != came:
            deadlines.add(conn, [gone], [came])


def _event(
    ticket_id: int,
    at: datetime,
    kind: EventKind,
    old: str | None,
    new: str | None,
    actor: Account | None,
    version: int,
) -> dict[str, Any]:
    return {
        "version": version,
        "ticket_id": ticket_id,
        "occurred_at": at,
        "kind": kind.value,
        "old_value": None if old is None else str(old),
        "new_value": None if new is None else str(new),
        "actor": None if actor is None else actor.name,
        "actor_id": None if actor is None else actor.id,
    }


def insert_events(conn: Connection, events: Sequence[dict[str, Any]]) -> None:
    if events:
        conn.execute(insert(ticket_events), list(events))


def events_for(conn: Connection, ticket_id: int, after_version: int | None = None) -> list[Change]:
    """A ticket's history, oldest first (only the changes past `after_version`, if given)."""
    e = ticket_events.c
    query = select(e.occurred_at, e.kind, e.old_value, e.new_value, e.actor).where(
        e.ticket_id == ticket_id
    )
    if after_version is not None:
        query = query.where(e.version > after_version)
    rows = conn.execute(query.order_by(e.occurred_at, e.id))
    return [
        Change(r.occurred_at, EventKind(r.kind), r.old_value, r.new_value, r.actor) for r in rows
    ]


_BULK_TICKET_TIMES = ("created_at", "updated_at", "first_response_at", "closed_at")
_BULK_TICKET_VALUES = (
    "issue",
    "status",
    "priority",
    "version",
    "first_response_hours",
    "first_response_bucket",
    "resolution_hours",
    "resolution_bucket",
    "status_rank",
    "priority_rank",
    "requester",
    "assignee",
    "requester_id",
)
_BULK_TICKET_COLUMNS = _BULK_TICKET_TIMES + _BULK_TICKET_VALUES
_BULK_EVENT_COLUMNS = (
    "ticket_id",
    "occurred_at",
    "kind",
    "old_value",
    "new_value",
    "actor",
    "actor_id",
    "version",
)


@dataclass(frozen=True)
class BulkRows:
    """Insert-ready values for many tickets and their events; an event's first value is the
    index of its ticket in `tickets`, replaced by the ticket's ID at insert time."""

    dialect: str
    tickets: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


def prepare_bulk(
    dialect: str, rows: Sequence[dict[str, Any]], events: Sequence[tuple[Any, ...]]
) -> BulkRows:
    """Values in column order; on SQLite, timestamps already in SQLAlchemy's storage text so
    that the insert can go straight to the driver. An event is (index of its ticket in
    `rows`, occurred_at, kind, old_value, new_value, actor, actor_id, version)."""
    times = itemgetter(*_BULK_TICKET_TIMES)
    values = itemgetter(*_BULK_TICKET_VALUES)
    if dialect != "sqlite":
        return BulkRows(
            dialect, [times(row) + values(row) for row in rows], [tuple(e) for e in events]
        )
    text = _sqlite_time
    ticket_values = []
    for row in rows:
        created, updated, first_response, closed = times(row)
        ticket_values.append(
            (text(created), text(updated), text(first_response), text(closed), *values(row))
        )
    event_values = [(e[0], text(e[1]), *e[2:]) for e in events]
    return BulkRows(dialect, ticket_values, event_values)


def insert_bulk(conn: Connection, rows: BulkRows) -> list[int]:
    """Insert prepared tickets and events (demo seeding); returns the tickets' IDs in order.

    On SQLite the values go straight to the driver's executemany (SQLAlchemy's per-row
    processing would triple the time of a million-ticket load); the IDs are still the
    database's own AUTOINCREMENT values, read back and checked to be exactly the new rows."""
    if conn.dialect.name != rows.dialect:
        raise ValueError(f"rows prepared for {rows.dialect}, not {conn.dialect.name}")
    if rows.dialect == "sqlite":
        before = conn.execute(select(func.coalesce(func.max(tickets.c.id), 0))).scalar_one()
        conn.exec_driver_sql(_insert_sql("tickets", _BULK_TICKET_COLUMNS), rows.tickets)
        query = select(tickets.c.id).where(tickets.c.id > before).order_by(tickets.c.id)
        ids = list(conn.execute(query).scalars())
        if len(ids) != len(rows.tickets):  # impossible while we hold BEGIN IMMEDIATE
            raise RuntimeError("bulk insert could not tell its own rows apart")
        events = [(ids[e[0]], *e[1:]) for e in rows.events]
        conn.exec_driver_sql(_insert_sql("ticket_events", _BULK_EVENT_COLUMNS), events)
        return ids
    result = conn.execute(
        insert(tickets).returning(tickets.c.id, sort_by_parameter_order=True),
        [dict(zip(_BULK_TICKET_COLUMNS, values, strict=True)) for values in rows.tickets],
    )
    ids = [row.id for row in result]
    insert_events(
        conn,
        [dict(zip(_BULK_EVENT_COLUMNS, (ids[e[0]], *e[1:]), strict=True)) for e in rows.events],
    )
    return ids


@contextmanager
def indexes_deferred(conn: Connection) -> Iterator[None]:
    """SQLite, inside one transaction: drop the tickets' secondary indexes and triggers, let
    the caller load rows, then build the indexes and the search index once and put the
    triggers back. A failure rolls all of it back with the transaction."""
    triggers = list(
        conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'tickets'"
        ).scalars()
    )
    for name in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'tickets'"
    ).scalars():
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    for index in tickets.indexes:
        index.drop(conn)
    yield
    for index in tickets.indexes:
        index.create(conn)
    if triggers:  # the migrations made the full-text index: fill it in one pass
        conn.exec_driver_sql("INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild')")
    for sql in triggers:
        conn.exec_driver_sql(sql)


def refresh_planner_statistics(engine: Engine) -> None:
    """After a bulk load on PostgreSQL, VACUUM (ANALYZE) the desk's own tables, as its manual
    advises: until autovacuum gets to them (never, where it is off), the planner takes the new
    tables for nearly empty, and without a visibility map every index-only scan visits the
    table (at 1M tickets the 30-day dashboard read took 88-103 ms instead of 45-51). VACUUM
    cannot run in a transaction, so this takes a connection of its own in autocommit. SQLite
    is left without statistics: the queries here are written for its plans without them."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        names = ", ".join(
            conn.dialect.identifier_preparer.quote(t.name) for t in metadata.tables.values()
        )
        conn.exec_driver_sql(f"VACUUM (ANALYZE) {names}")


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    placeholders = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608


def _sqlite_time(value: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy stores it in SQLite: UTC, ISO text, microseconds (formatted
    by hand: three times faster than isoformat of an aware datetime, which a million-ticket
    load calls five million times)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )
