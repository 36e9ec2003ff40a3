"""The outbox: what the delivery worker claims and reports (no account: the worker acts for
the desk), and what admins see and retry on the Outbox page. One transaction each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from ticketdesk.domain.accounts import Account, Action, require
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.mail import MailState, next_attempt
from ticketdesk.queries import mail as mail_reads
from ticketdesk.queries.mail import InboxEntry, OutboxCounts
from ticketdesk.store import mail as mail_store
from ticketdesk.store.db import read, run_transaction
from ticketdesk.store.mail import OutgoingRow


@dataclass(frozen=True)
class OutgoingMail:
    """A claimed mail with its thread headers, ready to be put into MIME and sent."""

    row: OutgoingRow
    in_reply_to: str | None
    references: list[str]


def claim(
    engine: Engine,
    worker: str,
    now: datetime,
    *,
    lease: timedelta,
    limit: int = 10,
    dead_workers: frozenset[str] = frozenset(),
) -> list[OutgoingMail]:
    """Claim up to `limit` due mails for `worker`: first every claim whose lease ran out, or
    whose worker is known to be dead (`dead_workers`: processes of this machine that are
    gone), goes back to the queue; then rows are claimed so that no two workers get the same
    one (FOR UPDATE SKIP LOCKED on PostgreSQL; one writer at a time on SQLite)."""

    def work(conn: Connection) -> list[OutgoingMail]:
        mail_store.release_expired(conn, now)
        if dead_workers:
            mail_store.release_claims_of(conn, sorted(dead_workers))
        claimed = mail_store.claim_due(conn, worker, now, lease, limit)
        return [OutgoingMail(row, *mail_store.thread_headers(conn, row)) for row in claimed]

    return run_transaction(engine, work)


def claimants(engine: Engine) -> set[str]:
    """The workers holding claims now (to tell the dead ones of this machine)."""
    return read(engine, mail_store.claimants)


def delivered(engine: Engine, outbox_id: int, worker: str, now: datetime) -> bool:
    """The server acknowledged the mail: it is sent, never to be sent again."""
    return run_transaction(engine, lambda conn: mail_store.mark_sent(conn, outbox_id, worker, now))


def delivery_failed(
    engine: Engine,
    outbox_id: int,
    worker: str,
    reason: str,
    *,
    permanent: bool,
    now: datetime,
    retry_seconds: float,
) -> MailState:
    """A try failed with the server's `reason`: queued again after the back-off, or failed for
    good (a permanent refusal, or the last of the attempts). Returns the new state."""

    def work(conn: Connection) -> MailState:
        attempts = mail_store.attempts_of(conn, outbox_id) + 1
        retry_at = None if permanent else next_attempt(attempts, now, retry_seconds)
        mail_store.mark_attempt_failed(conn, outbox_id, worker, reason, retry_at)
        return MailState.FAILED if retry_at is None else MailState.QUEUED

    return run_transaction(engine, work)


def next_due(engine: Engine) -> datetime | None:
    return read(engine, mail_store.next_due)


PRUNE_BATCH = 2000
"""Rows pruned per transaction: a backlog (the first prune of a desk that has sent mail for
years) goes in short transactions, never one long write lock."""


def prune_sent(engine: Engine, now: datetime, keep: timedelta, batch: int = PRUNE_BATCH) -> int:
    """Delete the mail sent more than `keep` ago (never queued, sending or failed mail); its
    Message-ID stays for threading (store.mail.prune_sent). Returns how many were deleted."""
    before = now - keep
    pruned = 0
    while True:
        done = run_transaction(engine, lambda conn: mail_store.prune_sent(conn, before, batch))
        pruned += done
        if done < batch:
            return pruned


# -- the Outbox page -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxView:
    counts: OutboxCounts
    mails: list[OutgoingMail]


def outbox(
    engine: Engine, by: Account, state: MailState | None = None, limit: int = 100
) -> OutboxView:
    """The newest mails of the outbox (of one state, if given) with their thread headers, and
    how many there are in each state."""
    require(by, Action.MANAGE_ACCOUNTS)

    def work(conn: Connection) -> OutboxView:
        rows = mail_reads.latest_outbox(conn, state, limit)
        mails = [OutgoingMail(row, *mail_store.thread_headers(conn, row)) for row in rows]
        return OutboxView(mail_reads.outbox_counts(conn), mails)

    return read(engine, work)


def retry(engine: Engine, by: Account, outbox_id: int, now: datetime) -> None:
    """Queue a failed (or waiting) mail again, for now, with a fresh count of attempts."""
    require(by, Action.MANAGE_ACCOUNTS)
    if not run_transaction(engine, lambda conn: mail_store.retry(conn, outbox_id, now)):
        raise ValidationError("That mail is being sent or was sent already; nothing to retry.")


def received_mail(
    engine: Engine, by: Account, outcomes: tuple[str, ...], limit: int = 100
) -> list[InboxEntry]:
    """The newest received mails of these outcomes (the rejected-mail list: ignored and
    rejected), with their reasons."""
    require(by, Action.MANAGE_ACCOUNTS)
    return read(engine, lambda conn: mail_reads.latest_inbox(conn, outcomes, limit))


def original_mail(engine: Engine, by: Account, inbox_id: int) -> bytes:
    """A received mail exactly as it came (staff only)."""
    require(by, Action.READ_NOTES)
    raw = read(engine, lambda conn: mail_store.raw_of(conn, inbox_id))
    if raw is None:
        raise ValidationError("That mail was not kept (too large, or it does not exist).")
    return raw


def originals_for(engine: Engine, by: Account, ticket_id: int) -> dict[int | None, int]:
    """{message ID (None: the ticket's own text): inbox ID} of the ticket's parts that came by
    mail, for staff to open the original."""
    require(by, Action.READ_NOTES)
    return read(engine, lambda conn: mail_store.originals_of(conn, ticket_id))


FETCH_STATUS_SETTING = "imap_status"


def set_fetch_status(engine: Engine, text: str, now: datetime) -> None:
    """What the IMAP fetcher last did (or why it could not), for the Outbox page."""
    del now  # the text says when
    run_transaction(
        engine, lambda conn: mail_store.set_setting(conn, FETCH_STATUS_SETTING, text[:200])
    )


def fetch_status(engine: Engine) -> str | None:
    return read(engine, lambda conn: mail_store.get_setting(conn, FETCH_STATUS_SETTING))
