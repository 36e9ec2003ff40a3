"""Writing tickets: `save`, the one write path of a ticket with its events and messages (and
every derived table, through store.projections), and the bulk insert of demo tickets. Every
function takes an open connection; the caller (a service) owns the transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from ticketdesk.domain import durations
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import (
    MESSAGE_EVENT,
    PRIORITY_RANK,
    STATUS_RANK,
    Outcome,
    Priority,
    Status,
    Ticket,
)
from ticketdesk.store import files as file_store
from ticketdesk.store import notifications, projections, webhooks
from ticketdesk.store.projections.delta import Delta
from ticketdesk.store.projections.revision import bump_revision
from ticketdesk.store.schema import (
    attachments,
    metadata,
    ticket_events,
    ticket_messages,
    tickets,
)

MESSAGE_EVENTS = frozenset(MESSAGE_EVENT.values())

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


def row_values(ticket: Ticket) -> dict[str, Any]:
    """Every stored column of `ticket` but its ID: its fields, the sort ranks and the stored
    durations that the dashboard reads."""
    return {
        "issue": ticket.issue,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "version": ticket.version,
        "first_response_at": ticket.first_response_at,
        "closed_at": ticket.closed_at,
        "requester": ticket.requester,
        "assignee": ticket.assignee,
        "requester_id": ticket.requester_id,
        "status_rank": STATUS_RANK[ticket.status],
        "priority_rank": PRIORITY_RANK[ticket.priority],
        **durations.duration_columns(ticket.created_at, ticket.first_response_at, ticket.closed_at),
    }


def save(
    conn: Connection,
    before: Ticket | None,
    outcome: Outcome,
    actor: Account | None,
    now: datetime,
) -> Ticket | None:
    """The one way a ticket is written: store `outcome` (the domain's answer to a change of
    `before`; None: a new ticket) with its events, message and attachment rows (their blobs
    are in the file store already), removing the attachment rows it removes, then keep every
    derived table in step (projections.apply) and queue what leaves the desk because of it:
    mails (notifications.record) and webhook deliveries (webhooks.record), all in the
    caller's transaction.

    A change applies only if the ticket is still at `before.version`; returns None when
    someone changed it since (nothing written), else the ticket as stored."""
    after = outcome.ticket
    if not outcome.changed:
        return after
    values = row_values(after)
    if before is None:
        ticket_id = conn.execute(
            insert(tickets).values(**values).returning(tickets.c.id)
        ).scalar_one()
        after = replace(after, id=ticket_id)
    else:
        old = row_values(before)
        changed = {name: value for name, value in values.items() if old[name] != value}
        result = conn.execute(
            update(tickets)
            .where(tickets.c.id == before.id, tickets.c.version == before.version)
            .values(**changed)
        )
        if result.rowcount != 1:
            return None
    message_id = None
    if outcome.message is not None:
        message_id = conn.execute(
            insert(ticket_messages)
            .values(
                ticket_id=after.id,
                created_at=now,
                author=None if actor is None else actor.name,
                author_id=None if actor is None else actor.id,
                kind=outcome.message.kind.value,
                body=outcome.message.body,
            )
            .returning(ticket_messages.c.id)
        ).scalar_one()
    if outcome.attachments:
        # Each upload's claim on its blob becomes this reference (UploadLost if the blob was
        # deleted since): see store.files.
        file_store.confirm_claims(conn, [file.sha256 for file in outcome.attachments])
        conn.execute(
            insert(attachments),
            [
                {
                    "ticket_id": after.id,
                    "message_id": message_id,
                    "sha256": file.sha256,
                    "name": file.name,
                    "size": file.size,
                    "content_type": file.content_type,
                    "created_at": now,
                    "author_id": None if actor is None else actor.id,
                }
                for file in outcome.attachments
            ],
        )
    if outcome.removed_files:
        conn.execute(
            delete(attachments).where(
                attachments.c.id.in_(outcome.removed_files), attachments.c.ticket_id == after.id
            )
        )
    conn.execute(
        insert(ticket_events),
        [
            {
                "ticket_id": after.id,
                "occurred_at": now,
                "kind": event.kind.value,
                "old_value": event.old_value,
                "new_value": str(message_id) if event.kind in MESSAGE_EVENTS else event.new_value,
                "actor": None if actor is None else actor.name,
                "actor_id": None if actor is None else actor.id,
                "version": after.version,
            }
            for event in outcome.events
        ],
    )
    projections.apply(conn, before, after, now)
    notifications.record(conn, before, after, outcome, actor, now)
    webhooks.record(conn, before, after, outcome, now)
    return after


def get_ticket(conn: Connection, ticket_id: int, for_update: bool = False) -> Ticket | None:
    """One ticket; `for_update` locks its row until the transaction ends (PostgreSQL; SQLite
    writers hold the whole database already)."""
    query = select(*TICKET_COLUMNS).where(tickets.c.id == ticket_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return None if row is None else ticket_from_row(row)


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


def save_bulk(
    conn: Connection,
    batches: Iterable[tuple[BulkRows, Delta]],
    *,
    indexes_deferred_: bool = False,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Insert prepared demo tickets with their events, batch after batch, then add the sum of
    their deltas (each computed by Delta.add_step, as for every save) to the derived tables
    once. With `indexes_deferred_` (SQLite, an empty desk): build the indexes once at the end
    too. Returns the number of tickets inserted."""
    total, made = Delta(), 0
    with indexes_deferred(conn) if indexes_deferred_ else nullcontext():
        for rows, delta in batches:
            insert_bulk(conn, rows)
            total.merge(delta)
            made += len(rows.tickets)
            if progress is not None:
                progress(len(rows.tickets))
    projections.write(conn, total)
    bump_revision(conn)
    return made


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
    if rows.events:
        conn.execute(
            insert(ticket_events),
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
