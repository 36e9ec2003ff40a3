"""Reads of single tickets: the newest tickets, a ticket's history and its conversation.
Every function takes an open connection; the caller (a service) owns the transaction."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from ticketdesk.domain.tickets import Change, EventKind, Message, MessageKind, Ticket
from ticketdesk.store.schema import ticket_events, ticket_messages, tickets
from ticketdesk.store.tickets import TICKET_COLUMNS, ticket_from_row


def list_tickets(conn: Connection, limit: int | None = None) -> list[Ticket]:
    """Tickets, newest first."""
    query = select(*TICKET_COLUMNS).order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [ticket_from_row(row) for row in conn.execute(query)]


def versions_of(conn: Connection, ticket_ids: list[int]) -> dict[int, int]:
    """The version of each of these tickets that exists, by its ID (one primary-key read)."""
    query = select(tickets.c.id, tickets.c.version).where(tickets.c.id.in_(ticket_ids))
    return {row.id: row.version for row in conn.execute(query)}


def count_tickets(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tickets)).scalar_one())


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


def messages_for(conn: Connection, ticket_id: int, include_notes: bool = True) -> list[Message]:
    """The conversation, oldest first; internal notes only if `include_notes`."""
    m = ticket_messages.c
    query = select(m.id, m.created_at, m.author, m.kind, m.body).where(m.ticket_id == ticket_id)
    if not include_notes:
        query = query.where(m.kind != MessageKind.NOTE.value)
    rows = conn.execute(query.order_by(m.id))
    return [Message(r.id, r.created_at, r.author, MessageKind(r.kind), r.body) for r in rows]
