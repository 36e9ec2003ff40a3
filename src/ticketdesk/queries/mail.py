"""Reads of the mail tables for the Outbox page: the newest outgoing mails, the count per
state, and the received mail that was ignored or rejected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from ticketdesk.domain.mail import MailState
from ticketdesk.store.mail import OUTBOX_COLUMNS, OutgoingRow, outgoing_from_row
from ticketdesk.store.schema import mail_inbox, mail_outbox

OutboxCounts = dict[MailState, int]


def latest_outbox(conn: Connection, state: MailState | None, limit: int) -> list[OutgoingRow]:
    query = select(*OUTBOX_COLUMNS).order_by(mail_outbox.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(mail_outbox.c.state == state.value)
    return [outgoing_from_row(row) for row in conn.execute(query)]


def outbox_counts(conn: Connection) -> OutboxCounts:
    rows = conn.execute(select(mail_outbox.c.state, func.count()).group_by(mail_outbox.c.state))
    found = {MailState(state): int(count) for state, count in rows}
    return {state: found.get(state, 0) for state in MailState}


@dataclass(frozen=True)
class InboxEntry:
    id: int
    received_at: datetime
    channel: str
    sender: str | None
    subject: str | None
    size: int
    outcome: str
    reason: str | None
    ticket_id: int | None
    kept: bool  # the raw message is stored


def latest_inbox(conn: Connection, outcomes: tuple[str, ...], limit: int) -> list[InboxEntry]:
    i = mail_inbox.c
    query = (
        select(
            i.id,
            i.received_at,
            i.channel,
            i.sender,
            i.subject,
            i.size,
            i.outcome,
            i.reason,
            i.ticket_id,
            i.raw.is_not(None).label("kept"),
        )
        .where(i.outcome.in_(outcomes))
        .order_by(i.id.desc())
        .limit(limit)
    )
    return [InboxEntry(**row._mapping) for row in conn.execute(query)]
