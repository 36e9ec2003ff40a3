"""SQL of the mail tables: the outbox (queue, claims, delivery states, pruning), the Message-IDs
of pruned sent mail, the inbox (every mail received, with its raw form), people's notification
opt-outs and the desk settings. Every function takes an open connection; the caller owns the
transaction."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, literal, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from ticketdesk.domain.mail import InboundOutcome, MailOrigin, MailState
from ticketdesk.domain.notifications import NoticeKind
from ticketdesk.store.schema import (
    desk_settings,
    mail_inbox,
    mail_outbox,
    mail_sent_ids,
    notification_optouts,
    ticket_messages,
)

THREAD_REFERENCES = 10
"""An outgoing mail's References name the thread's first Message-ID and the latest ones, up to
this many in all (RFC 5322 suggests trimming long chains; clients thread on the first and the
last)."""


def compress(raw: bytes) -> bytes:
    return zlib.compress(raw, 6)


def decompress(stored: bytes) -> bytes:
    return zlib.decompress(stored)


# -- settings and opt-outs -----------------------------------------------------------------


def get_setting(conn: Connection, key: str) -> str | None:
    query = select(desk_settings.c.value).where(desk_settings.c.key == key)
    return conn.execute(query).scalar_one_or_none()


def set_setting(conn: Connection, key: str, value: str) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(desk_settings).values(key=key, value=value)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["key"], set_={"value": statement.excluded.value}
        )
    )


def optouts(conn: Connection, account_ids: Iterable[int]) -> dict[int, frozenset[NoticeKind]]:
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    found: dict[int, set[NoticeKind]] = {}
    rows = conn.execute(
        select(notification_optouts.c.account_id, notification_optouts.c.kind).where(
            notification_optouts.c.account_id.in_(ids)
        )
    )
    for account_id, kind in rows:
        found.setdefault(account_id, set()).add(NoticeKind(kind))
    return {account_id: frozenset(kinds) for account_id, kinds in found.items()}


def set_optouts(conn: Connection, account_id: int, kinds: Iterable[NoticeKind]) -> None:
    conn.execute(
        delete(notification_optouts).where(notification_optouts.c.account_id == account_id)
    )
    values = [{"account_id": account_id, "kind": k.value} for k in sorted(set(kinds))]
    if values:
        conn.execute(insert(notification_optouts), values)


# -- the outbox ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingRow:
    """One outbox row as the worker and the Outbox page need it."""

    id: int
    message_id: str
    ticket_id: int | None
    kind: str
    recipient: str
    recipient_name: str | None
    subject: str
    body_text: str
    body_html: str
    in_reply_to: str | None
    created_at: datetime
    state: MailState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


OUTBOX_COLUMNS = (
    mail_outbox.c.id,
    mail_outbox.c.message_id,
    mail_outbox.c.ticket_id,
    mail_outbox.c.kind,
    mail_outbox.c.recipient,
    mail_outbox.c.recipient_name,
    mail_outbox.c.subject,
    mail_outbox.c.body_text,
    mail_outbox.c.body_html,
    mail_outbox.c.in_reply_to,
    mail_outbox.c.created_at,
    mail_outbox.c.state,
    mail_outbox.c.attempts,
    mail_outbox.c.next_attempt_at,
    mail_outbox.c.last_error,
    mail_outbox.c.sent_at,
)


def outgoing_from_row(row: Any) -> OutgoingRow:
    values = dict(row._mapping)
    values["state"] = MailState(values["state"])
    return OutgoingRow(**values)


def queue(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Add mails to the outbox, queued for now. Each row: message_id, ticket_id, kind,
    recipient_id, recipient, recipient_name, subject, body_text, body_html, in_reply_to."""
    if rows:
        conn.execute(
            insert(mail_outbox),
            [
                {**row, "created_at": now, "state": MailState.QUEUED.value, "next_attempt_at": now}
                for row in rows
            ],
        )


def release_expired(conn: Connection, now: datetime) -> int:
    """Claims whose worker did not report back within its lease (it died, or lost the
    database) go back to the queue: the mail may or may not have left, and is tried again
    (at least once: a mail is never lost for a crash)."""
    return conn.execute(
        update(mail_outbox)
        .where(mail_outbox.c.state == MailState.SENDING.value, mail_outbox.c.lease_until < now)
        .values(state=MailState.QUEUED.value, lease_until=None, claimed_by=None)
    ).rowcount


def recently_mailed(conn: Connection, recipient: str, kind: str, since: datetime) -> bool:
    """Whether a mail of `kind` went (or waits to go) to `recipient` since `since` (the
    outbox keeps sent mail at least a day: config.outbox_retention)."""
    query = select(mail_outbox.c.id).where(
        func.lower(mail_outbox.c.recipient) == recipient.lower(),
        mail_outbox.c.kind == kind,
        mail_outbox.c.created_at >= since,
    )
    return conn.execute(query.limit(1)).first() is not None


def release_claims_of(conn: Connection, workers: Sequence[str]) -> int:
    """Claims of workers known to be dead go back to the queue at once (see release_expired
    for what that means)."""
    return conn.execute(
        update(mail_outbox)
        .where(
            mail_outbox.c.state == MailState.SENDING.value,
            mail_outbox.c.claimed_by.in_(list(workers)),
        )
        .values(state=MailState.QUEUED.value, lease_until=None, claimed_by=None)
    ).rowcount


def claimants(conn: Connection) -> set[str]:
    query = select(mail_outbox.c.claimed_by).where(mail_outbox.c.state == MailState.SENDING.value)
    return {name for name in conn.execute(query.distinct()).scalars() if name}


def claim_due(
    conn: Connection, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[OutgoingRow]:
    """Claim up to `limit` queued mails that are due, oldest first, for `worker` until
    now + `lease`. On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so several
    workers claim different rows without waiting for each other; on SQLite the writing
    transaction (BEGIN IMMEDIATE) already lets one worker claim at a time."""
    query = (
        select(mail_outbox.c.id)
        .where(mail_outbox.c.state == MailState.QUEUED.value, mail_outbox.c.next_attempt_at <= now)
        .order_by(mail_outbox.c.next_attempt_at, mail_outbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    conn.execute(
        update(mail_outbox)
        .where(mail_outbox.c.id.in_(ids), mail_outbox.c.state == MailState.QUEUED.value)
        .values(state=MailState.SENDING.value, claimed_by=worker, lease_until=now + lease)
    )
    rows = conn.execute(
        select(*OUTBOX_COLUMNS).where(mail_outbox.c.id.in_(ids)).order_by(mail_outbox.c.id)
    )
    return [outgoing_from_row(row) for row in rows]


def mark_sent(conn: Connection, outbox_id: int, worker: str, now: datetime) -> bool:
    """Record the server's acknowledgement; False if the claim was no longer this worker's."""
    return (
        conn.execute(
            update(mail_outbox)
            .where(mail_outbox.c.id == outbox_id, mail_outbox.c.claimed_by == worker)
            .values(
                state=MailState.SENT.value,
                sent_at=now,
                attempts=mail_outbox.c.attempts + 1,
                lease_until=None,
                last_error=None,
            )
        ).rowcount
        == 1
    )


def mark_attempt_failed(
    conn: Connection, outbox_id: int, worker: str, error: str, retry_at: datetime | None
) -> bool:
    """A failed try: queued again for `retry_at`, or failed for good (None)."""
    values: dict[str, Any] = {
        "attempts": mail_outbox.c.attempts + 1,
        "last_error": error[:2000],
        "lease_until": None,
        "claimed_by": None,
    }
    if retry_at is None:
        values["state"] = MailState.FAILED.value
    else:
        values.update(state=MailState.QUEUED.value, next_attempt_at=retry_at)
    return (
        conn.execute(
            update(mail_outbox)
            .where(mail_outbox.c.id == outbox_id, mail_outbox.c.claimed_by == worker)
            .values(**values)
        ).rowcount
        == 1
    )


def attempts_of(conn: Connection, outbox_id: int) -> int:
    query = select(mail_outbox.c.attempts).where(mail_outbox.c.id == outbox_id)
    return int(conn.execute(query).scalar_one())


def retry(conn: Connection, outbox_id: int, now: datetime) -> bool:
    """An admin's retry of a failed (or waiting) mail: queued for now, with a fresh count."""
    return (
        conn.execute(
            update(mail_outbox)
            .where(
                mail_outbox.c.id == outbox_id,
                mail_outbox.c.state.in_([MailState.FAILED.value, MailState.QUEUED.value]),
            )
            .values(state=MailState.QUEUED.value, next_attempt_at=now, attempts=0)
        ).rowcount
        == 1
    )


def next_due(conn: Connection) -> datetime | None:
    """When the next queued mail falls due (None: nothing queued)."""
    query = select(func.min(mail_outbox.c.next_attempt_at)).where(
        mail_outbox.c.state == MailState.QUEUED.value
    )
    return conn.execute(query).scalar_one_or_none()


def prune_sent(conn: Connection, sent_before: datetime, limit: int) -> int:
    """Delete up to `limit` sent mails (oldest first) sent before `sent_before`, keeping
    what threading needs of each in mail_sent_ids; returns how many. Queued, sending and
    failed mail is never pruned. PostgreSQL: rows another pruner holds are skipped (SKIP
    LOCKED) and a Message-ID kept already is kept once (ON CONFLICT DO NOTHING)."""
    o = mail_outbox.c
    due = (
        select(o.id)
        .where(o.state == MailState.SENT.value, o.sent_at < sent_before)
        .order_by(o.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    keep = dialect.insert(mail_sent_ids).from_select(
        ["message_id", "outbox_id", "ticket_id", "created_at"],
        select(o.message_id, o.id, o.ticket_id, o.created_at).where(o.id.in_(ids)),
    )
    conn.execute(keep.on_conflict_do_nothing(index_elements=["message_id"]))
    return conn.execute(delete(mail_outbox).where(o.id.in_(ids))).rowcount


def thread_of(conn: Connection, ticket_id: int) -> list[tuple[str, str, int]]:
    """Every Message-ID of a ticket's mail, sent (pruned from the outbox or not) and received,
    in the order they happened: (message_id, 'in' or 'out', row id; a sent mail's is its
    outbox row's). Mail received at the same moment as a mail sent (a ticket filed by mail
    and its confirmation) comes first."""
    received = select(
        mail_inbox.c.message_id,
        mail_inbox.c.received_at.label("at"),
        literal("in").label("direction"),
        mail_inbox.c.id,
    ).where(
        mail_inbox.c.ticket_id == ticket_id,
        mail_inbox.c.outcome.in_([InboundOutcome.FILED.value, InboundOutcome.REPLY.value]),
    )
    sent = select(
        mail_outbox.c.message_id,
        mail_outbox.c.created_at.label("at"),
        literal("out").label("direction"),
        mail_outbox.c.id,
    ).where(mail_outbox.c.ticket_id == ticket_id)
    pruned = select(
        mail_sent_ids.c.message_id,
        mail_sent_ids.c.created_at.label("at"),
        literal("out").label("direction"),
        mail_sent_ids.c.outbox_id.label("id"),
    ).where(mail_sent_ids.c.ticket_id == ticket_id)
    both = union_all(received, sent, pruned).subquery()
    rows = conn.execute(
        select(both.c.message_id, both.c.direction, both.c.id).order_by(
            both.c.at, both.c.direction, both.c.id
        )
    )
    return [(row.message_id, row.direction, row.id) for row in rows]


def thread_headers(conn: Connection, mail: OutgoingRow) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) of an outgoing mail: the ticket's mail before it, the latest
    as In-Reply-To, the first and the latest ones as References. The same for every try."""
    if mail.ticket_id is None:
        return mail.in_reply_to, [mail.in_reply_to] if mail.in_reply_to else []
    earlier: list[str] = []
    for message_id, direction, row_id in thread_of(conn, mail.ticket_id):
        if direction == "out" and row_id == mail.id:
            break
        earlier.append(message_id)
    if not earlier:
        return None, []
    references = (
        earlier
        if len(earlier) <= THREAD_REFERENCES
        else [
            earlier[0],
            *earlier[-(THREAD_REFERENCES - 1) :],
        ]
    )
    return earlier[-1], references


# -- the inbox -----------------------------------------------------------------------------


def known_message(conn: Connection, message_id: str) -> str | None:
    """'in' if this Message-ID was received before, 'out' if the desk sent it (pruned from the
    outbox since or not), else None."""
    if conn.execute(select(mail_inbox.c.id).where(mail_inbox.c.message_id == message_id)).first():
        return "in"
    if conn.execute(select(mail_outbox.c.id).where(mail_outbox.c.message_id == message_id)).first():
        return "out"
    pruned = select(mail_sent_ids.c.outbox_id).where(mail_sent_ids.c.message_id == message_id)
    if conn.execute(pruned).first():
        return "out"
    return None


def ticket_of_messages(conn: Connection, message_ids: Sequence[str]) -> int | None:
    """The ticket of the first of `message_ids` (in their order) that the desk sent (pruned
    from the outbox since or not) or received on a ticket, else None."""
    if not message_ids:
        return None
    found: dict[str, int] = {}
    for table in (mail_outbox, mail_sent_ids, mail_inbox):
        rows = conn.execute(
            select(table.c.message_id, table.c.ticket_id).where(
                table.c.message_id.in_(list(message_ids)), table.c.ticket_id.is_not(None)
            )
        )
        for message_id, ticket_id in rows:
            found.setdefault(message_id, ticket_id)
    for message_id in message_ids:
        if message_id in found:
            return found[message_id]
    return None


def insert_inbound(
    conn: Connection,
    mail: MailOrigin,
    outcome: InboundOutcome,
    reason: str | None = None,
    ticket_id: int | None = None,
) -> int:
    """Keep a received mail (raw, compressed) with what became of it."""
    return int(
        conn.execute(
            insert(mail_inbox)
            .values(
                message_id=mail.message_id,
                received_at=mail.received_at,
                channel=mail.channel,
                sender=None if mail.sender is None else mail.sender[:254],
                subject=None if mail.subject is None else mail.subject[:300],
                size=mail.size,
                raw=None if mail.raw is None else compress(mail.raw),
                outcome=outcome.value,
                reason=reason,
                ticket_id=ticket_id,
            )
            .returning(mail_inbox.c.id)
        ).scalar_one()
    )


def link_inbound(conn: Connection, inbox_id: int, ticket_id: int, message_id: int | None) -> None:
    conn.execute(
        update(mail_inbox)
        .where(mail_inbox.c.id == inbox_id)
        .values(ticket_id=ticket_id, ticket_message_id=message_id)
    )


def latest_message_of(conn: Connection, ticket_id: int) -> int | None:
    """The newest message row of a ticket (the one a save just wrote)."""
    query = select(func.max(ticket_messages.c.id)).where(ticket_messages.c.ticket_id == ticket_id)
    return conn.execute(query).scalar_one_or_none()


def raw_of(conn: Connection, inbox_id: int) -> bytes | None:
    stored = conn.execute(
        select(mail_inbox.c.raw).where(mail_inbox.c.id == inbox_id)
    ).scalar_one_or_none()
    return None if stored is None else decompress(stored)


def originals_of(conn: Connection, ticket_id: int) -> dict[int | None, int]:
    """{ticket message ID (None: the ticket's own text): inbox ID} for a ticket's mail."""
    rows = conn.execute(
        select(mail_inbox.c.ticket_message_id, mail_inbox.c.id).where(
            mail_inbox.c.ticket_id == ticket_id, mail_inbox.c.raw.is_not(None)
        )
    )
    return {row.ticket_message_id: row.id for row in rows}


def any_of(conn: Connection, states: Sequence[MailState]) -> bool:
    query = select(mail_outbox.c.id).where(or_(*(mail_outbox.c.state == s.value for s in states)))
    return conn.execute(query.limit(1)).first() is not None
