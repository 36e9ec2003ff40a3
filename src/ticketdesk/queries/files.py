"""Reads of attachments. Every function takes an open connection; the caller (a service) owns
the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ticketdesk.domain.files import Attachment
from ticketdesk.domain.tickets import MessageKind
from ticketdesk.store.schema import attachments, ticket_messages, tickets

_COLUMNS = (
    attachments.c.id,
    attachments.c.ticket_id,
    attachments.c.message_id,
    attachments.c.sha256,
    attachments.c.name,
    attachments.c.size,
    attachments.c.content_type,
)

_OF_MESSAGE = attachments.c.message_id == ticket_messages.c.id


def _attachment(row: Any) -> Attachment:
    return Attachment(
        row.id, row.ticket_id, row.message_id, row.sha256, row.name, row.size, row.content_type
    )


def attachments_for(
    conn: Connection, ticket_id: int, include_notes: bool = True
) -> list[Attachment]:
    """A ticket's files in the order they were attached; those of internal notes only if
    `include_notes`."""
    query = (
        select(*_COLUMNS)
        .select_from(attachments.outerjoin(ticket_messages, _OF_MESSAGE))
        .where(attachments.c.ticket_id == ticket_id)
    )
    if not include_notes:
        query = query.where(
            (ticket_messages.c.kind.is_(None)) | (ticket_messages.c.kind != MessageKind.NOTE.value)
        )
    return [_attachment(r) for r in conn.execute(query.order_by(attachments.c.id))]


def attachments_of_tickets(
    conn: Connection, ticket_ids: Sequence[int], include_notes: bool = True
) -> dict[int, list[Attachment]]:
    """The files of several tickets in one query, by ticket id, each in the order they were
    attached (tickets without files are left out); those of internal notes only if
    `include_notes`."""
    if not ticket_ids:
        return {}
    query = (
        select(*_COLUMNS)
        .select_from(attachments.outerjoin(ticket_messages, _OF_MESSAGE))
        .where(attachments.c.ticket_id.in_(ticket_ids))
    )
    if not include_notes:
        query = query.where(
            (ticket_messages.c.kind.is_(None)) | (ticket_messages.c.kind != MessageKind.NOTE.value)
        )
    found: dict[int, list[Attachment]] = {}
    for row in conn.execute(query.order_by(attachments.c.id)):
        found.setdefault(row.ticket_id, []).append(_attachment(row))
    return found


@dataclass(frozen=True)
class AttachmentAccess:
    """A file with what decides who may read it."""

    attachment: Attachment
    requester_id: int | None  # of its ticket
    internal: bool  # a file of an internal note


def attachment(conn: Connection, attachment_id: int) -> AttachmentAccess | None:
    query = (
        select(*_COLUMNS, tickets.c.requester_id, ticket_messages.c.kind)
        .select_from(
            attachments.join(tickets, attachments.c.ticket_id == tickets.c.id).outerjoin(
                ticket_messages, _OF_MESSAGE
            )
        )
        .where(attachments.c.id == attachment_id)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    return AttachmentAccess(_attachment(row), row.requester_id, row.kind == MessageKind.NOTE.value)
