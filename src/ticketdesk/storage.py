"""SQL for reading and writing tickets and their events. Every function takes an open
connection; the caller (a service) owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from .domain import EventKind, Priority, Status, Ticket, TicketChange
from .schema import ticket_events, tickets

_TICKET_COLUMNS = (
    tickets.c.id,
    tickets.c.issue,
    tickets.c.status,
    tickets.c.priority,
    tickets.c.created_at,
    tickets.c.updated_at,
    tickets.c.version,
)


def _ticket(row: Any) -> Ticket:
    return Ticket(
        id=row.id,
        issue=row.issue,
        status=Status(row.status),
        priority=Priority(row.priority),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def insert_ticket(conn: Connection, issue: str, priority: Priority, now: datetime) -> Ticket:
    """Store a new Open ticket and its `created` event; the ID comes from the database."""
    ticket_id = conn.execute(
        insert(tickets)
        .values(
            issue=issue,
            status=Status.OPEN.value,
            priority=priority.value,
            created_at=now,
            updated_at=now,
            version=1,
        )
        .returning(tickets.c.id)
    ).scalar_one()
    insert_events(conn, [_event(ticket_id, now, EventKind.CREATED, None, priority.value)])
    return Ticket(ticket_id, issue, Status.OPEN, priority, now, now, 1)


def get_ticket(conn: Connection, ticket_id: int) -> Ticket | None:
    row = conn.execute(select(*_TICKET_COLUMNS).where(tickets.c.id == ticket_id)).first()
    return None if row is None else _ticket(row)


def list_tickets(conn: Connection, limit: int | None = None) -> list[Ticket]:
    """Tickets, newest first."""
    query = select(*_TICKET_COLUMNS).order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_ticket(row) for row in conn.execute(query)]


def count_tickets(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tickets)).scalar_one())


def apply_change(
    conn: Connection, current: Ticket, change: TicketChange, now: datetime
) -> Ticket | None:
    """Write `change` to one ticket with one event per changed field. The update only applies
    if the ticket is still at `current.version`; returns None when someone changed it since."""
    values: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    new_status = current.status
    if change.status is not None and change.status != current.status:
        new_status = Status(change.status)
        values["status"] = new_status.value
        events.append(_event(current.id, now, EventKind.STATUS, current.status, new_status))
        if current.status is Status.OPEN:
            values["first_response_at"] = func.coalesce(tickets.c.first_response_at, now)
        if new_status is Status.CLOSED:
            values["closed_at"] = now
        elif current.status is Status.CLOSED:
            values["closed_at"] = None
    new_priority = current.priority
    if change.priority is not None and change.priority != current.priority:
        new_priority = Priority(change.priority)
        values["priority"] = new_priority.value
        events.append(_event(current.id, now, EventKind.PRIORITY, current.priority, new_priority))
    new_issue = current.issue
    if change.issue is not None and change.issue != current.issue:
        new_issue = change.issue
        values["issue"] = new_issue
        events.append(_event(current.id, now, EventKind.ISSUE, current.issue, new_issue))
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
    return Ticket(
        current.id,
        new_issue,
        new_status,
        new_priority,
        current.created_at,
        now,
        current.version + 1,
    )


def _event(
    ticket_id: int, at: datetime, kind: EventKind, old: str | None, new: str | None
) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "occurred_at": at,
        "kind": kind.value,
        "old_value": None if old is None else str(old),
        "new_value": None if new is None else str(new),
    }


def insert_events(conn: Connection, events: Sequence[dict[str, Any]]) -> None:
    if events:
        conn.execute(insert(ticket_events), list(events))


def events_for(conn: Connection, ticket_id: int) -> list[dict[str, Any]]:
    """A ticket's history, oldest first."""
    rows = conn.execute(
        select(
            ticket_events.c.occurred_at,
            ticket_events.c.kind,
            ticket_events.c.old_value,
            ticket_events.c.new_value,
        )
        .where(ticket_events.c.ticket_id == ticket_id)
        .order_by(ticket_events.c.occurred_at, ticket_events.c.id)
    )
    return [dict(row._mapping) for row in rows]


def bulk_insert_tickets(conn: Connection, rows: Iterable[dict[str, Any]]) -> list[int]:
    """Insert many ticket rows at once (demo seeding); returns their IDs in input order."""
    result = conn.execute(
        insert(tickets).returning(tickets.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [row.id for row in result]
