"""SQL for a ticket's conversation: replies, internal notes and requesters' messages. The
caller (a service) owns the transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from ticketdesk.domain import durations
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import EventKind, Message, MessageKind, Ticket
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.projections import revision
from ticketdesk.store.schema import ticket_messages, tickets

_EVENT_KIND = {
    MessageKind.REPLY: EventKind.REPLY,
    MessageKind.NOTE: EventKind.NOTE,
    MessageKind.MESSAGE: EventKind.MESSAGE,
}


def add_message(
    conn: Connection,
    current: Ticket,
    kind: MessageKind,
    body: str,
    author: Account,
    now: datetime,
) -> Ticket:
    """Store a message with its event. The first public reply is the ticket's first response
    if nothing answered it before. `current` must have been read with for_update."""
    answered = kind is MessageKind.REPLY and current.first_response_at is None
    after = replace(
        current,
        updated_at=now,
        version=current.version + 1,
        first_response_at=now if answered else current.first_response_at,
    )
    conn.execute(
        update(tickets)
        .where(tickets.c.id == current.id)
        .values(
            updated_at=now,
            version=after.version,
            first_response_at=after.first_response_at,
            **durations.duration_columns(
                after.created_at, after.first_response_at, after.closed_at
            ),
        )
    )
    message_id = conn.execute(
        insert(ticket_messages)
        .values(
            ticket_id=current.id,
            created_at=now,
            author=author.name,
            author_id=author.id,
            kind=kind.value,
            body=body,
        )
        .returning(ticket_messages.c.id)
    ).scalar_one()
    ticket_store.insert_events(
        conn,
        [
            {
                "ticket_id": current.id,
                "occurred_at": now,
                "kind": _EVENT_KIND[kind].value,
                "old_value": None,
                "new_value": str(message_id),
                "actor": author.name,
                "actor_id": author.id,
                "version": after.version,
            }
        ],
    )
    ticket_store.recount(conn, current, after, now)
    revision.bump_revision(conn)
    return after


def messages_for(conn: Connection, ticket_id: int, include_notes: bool = True) -> list[Message]:
    """The conversation, oldest first; internal notes only if `include_notes`."""
    m = ticket_messages.c
    query = select(m.id, m.created_at, m.author, m.kind, m.body).where(m.ticket_id == ticket_id)
    if not include_notes:
        query = query.where(m.kind != MessageKind.NOTE.value)
    rows = conn.execute(query.order_by(m.id))
    return [Message(r.id, r.created_at, r.author, MessageKind(r.kind), r.body) for r in rows]
