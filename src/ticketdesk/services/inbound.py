"""Mail in: what a received mail becomes. A new ticket of its sender, a message on the ticket
it answers, or an entry of the rejected-mail list with the reason; never a loop, never twice.

The mail channel (ticketdesk.mail) reads the MIME and calls `receive` with what it found;
tickets and messages are made by services.tickets (create_ticket, add_message), like the
web's, with the mail kept alongside and its files attached as the form's are (blobs written
to the file store before the transaction that records them with the message)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ticketdesk.domain.accounts import Account, Role, email_key, validate_name
from ticketdesk.domain.errors import TicketDeskError, ValidationError
from ticketdesk.domain.files import MailFile, MailFiles, Upload, choose_mail_files
from ticketdesk.domain.mail import (
    DeskAddress,
    DuplicateMail,
    InboundOutcome,
    MailOrigin,
    machine_made,
    plus_ticket,
    subject_ticket,
)
from ticketdesk.domain.notifications import NoticeKind
from ticketdesk.domain.tickets import (
    ISSUE_MAX_CHARS,
    MESSAGE_MAX_CHARS,
    MessageKind,
    ticket_code,
)
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.notifications import UnknownSenders, mail_settings
from ticketdesk.store import accounts as account_store
from ticketdesk.store import mail as mail_store
from ticketdesk.store import notifications as notification_store
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.db import read, run_transaction

REFUSAL_EVERY = timedelta(days=1)
"""An address without an account gets at most one automatic answer in this time."""
CUT_NOTE = "\n\n[… cut here; the whole mail is kept with the ticket]"


@dataclass(frozen=True)
class IncomingMail:
    """What the channel read from one mail."""

    origin: MailOrigin
    sender_name: str
    references: list[str]  # Message-IDs it answers, most direct first
    headers: dict[str, str]  # lower-case names, first values
    envelope_sender: str | None  # SMTP MAIL FROM / Return-Path ('' = null sender)
    plus_tokens: list[str]  # the +parts of the desk's address it was sent to
    text: str  # a reply's new part (quotes and signature cut)
    full_text: str  # all of it but the signature
    attachments: list[MailFile]  # attachments and inline images, decoded, in the mail's order


@dataclass(frozen=True)
class Receipt:
    """What became of a mail (`outcome` None: a duplicate, stored before)."""

    outcome: InboundOutcome | None
    ticket_id: int | None = None
    reason: str | None = None

    def describe(self) -> str:
        if self.outcome is None:
            return "a duplicate of a mail received before: stored once"
        if self.outcome is InboundOutcome.FILED:
            return f"filed as {ticket_code(self.ticket_id or 0)}"
        if self.outcome is InboundOutcome.REPLY:
            return f"added to {ticket_code(self.ticket_id or 0)}"
        return f"{self.outcome.value}: {self.reason}"


DUPLICATE = Receipt(None)


def reject(engine: Engine, origin: MailOrigin, reason: str, outcome: InboundOutcome) -> Receipt:
    """Keep a mail that files nothing on the rejected-mail list (once per Message-ID)."""

    def work(conn: Connection) -> Receipt:
        # Received before: stored once. (A Message-ID the desk sent is no reason to drop the
        # mail unrecorded: that is the desk's own mail coming back, listed as ignored.)
        if mail_store.known_message(conn, origin.message_id) == "in":
            return DUPLICATE
        _record(conn, origin, outcome, reason)
        return Receipt(outcome, None, reason)

    try:
        return run_transaction(engine, work)
    except IntegrityError:  # the same mail, stored at this moment by another fetcher
        return DUPLICATE


def _record(conn: Connection, origin: MailOrigin, outcome: InboundOutcome, reason: str) -> int:
    return mail_store.insert_inbound(conn, origin, outcome, reason)


@dataclass(frozen=True)
class _Situation:
    known: str | None  # 'in', 'out' or None: was this Message-ID seen before
    sender: Account | None
    thread_ticket: int | None  # the ticket its References/In-Reply-To name
    token_ticket: int | None  # the ticket of a [TICKET-n] subject or support+TICKET-n@
    token_requester: int | None  # that ticket's requester


def receive(engine: Engine, mail: IncomingMail, desk: DeskAddress, now: datetime) -> Receipt:
    """Decide and store what `mail` becomes (module docstring). Raises DatabaseUnavailable
    when the database is away: the mail stays where it is and is offered again."""
    origin = mail.origin
    token = subject_ticket(origin.subject)
    if token is None:
        token = next((t for t in map(plus_ticket, mail.plus_tokens) if t is not None), None)

    def look(conn: Connection) -> _Situation:
        found = account_store.account_by_email(conn, email_key(origin.sender))
        thread = mail_store.ticket_of_messages(conn, mail.references)
        token_ticket = ticket_store.get_ticket(conn, token) if token is not None else None
        return _Situation(
            mail_store.known_message(conn, origin.message_id),
            None if found is None else found[0],
            thread,
            None if token_ticket is None else token_ticket.id,
            None if token_ticket is None else token_ticket.requester_id,
        )

    seen = read(engine, look)
    if seen.known == "in":
        return DUPLICATE
    if seen.known == "out":
        return reject(engine, origin, "the desk's own mail came back", InboundOutcome.IGNORED)
    why = machine_made(mail.headers, mail.envelope_sender)
    if origin.sender.casefold() == desk.address.casefold():
        why = why or "sent from the desk's own address"
    if why is not None:  # never a ticket, never an answer: no loops
        return reject(engine, origin, why, InboundOutcome.IGNORED)
    sender = seen.sender
    if sender is not None and not sender.active:
        return reject(
            engine, origin, f"{origin.sender} has a deactivated account", InboundOutcome.REJECTED
        )
    try:
        if seen.thread_ticket is not None:
            if sender is None:
                return _refuse_unknown(engine, mail, now, seen.thread_ticket)
            return _answer(engine, mail, sender, seen.thread_ticket, now)
        if (
            seen.token_ticket is not None
            and sender is not None
            and (sender.is_staff or sender.id == seen.token_requester)
        ):
            return _answer(engine, mail, sender, seen.token_ticket, now)
        # A [TICKET-n] from anyone else is no proof of anything: a new ticket.
        if sender is None:
            if mail_settings(engine).unknown_senders is UnknownSenders.REFUSE:
                return _refuse_unknown(engine, mail, now, None)
            sender = _new_requester(engine, origin.sender, mail.sender_name, now)
        return _file(engine, mail, sender, now)
    except DuplicateMail:
        return DUPLICATE
    except ValidationError as exc:  # e.g. a sender address the desk cannot make an account of
        return reject(engine, origin, str(exc), InboundOutcome.REJECTED)


def _answer(
    engine: Engine, mail: IncomingMail, sender: Account, ticket_id: int, now: datetime
) -> Receipt:
    """A message on the ticket: a public reply when an agent wrote it, the requester's
    message when the requester did; anyone else's answer is rejected (their address saw the
    thread, which makes them neither)."""
    ticket = read(engine, lambda conn: ticket_store.get_ticket(conn, ticket_id))
    assert ticket is not None
    if sender.is_staff:
        kind = MessageKind.REPLY
    elif ticket.requester_id == sender.id:
        kind = MessageKind.MESSAGE
    else:
        return reject(
            engine,
            mail.origin,
            f"{mail.origin.sender} answered {ticket.code}, whose requester they are not",
            InboundOutcome.REJECTED,
        )
    files = choose_mail_files(mail.attachments)
    body = _message_text(mail.text or mail.full_text, files, MESSAGE_MAX_CHARS)
    try:
        ticket_service.add_message(
            engine, sender, ticket_id, kind.value, body, now, _uploads(files), mail=mail.origin
        )
    except ValidationError as exc:
        return reject(engine, mail.origin, str(exc), InboundOutcome.REJECTED)
    return Receipt(InboundOutcome.REPLY, ticket_id)


def _file(engine: Engine, mail: IncomingMail, sender: Account, now: datetime) -> Receipt:
    subject = mail.origin.subject.strip()
    files = choose_mail_files(mail.attachments)
    try:
        ticket = ticket_service.create_ticket(
            engine,
            sender,
            _message_text(mail.full_text, files, ISSUE_MAX_CHARS, subject),
            "Medium",
            now,
            _uploads(files),
            mail=mail.origin,
        )
    except ValidationError as exc:
        return reject(engine, mail.origin, str(exc), InboundOutcome.REJECTED)
    return Receipt(InboundOutcome.FILED, ticket.id)


def _message_text(text: str, files: MailFiles, limit: int, subject: str = "") -> str:
    """A reply's new part, or a new ticket's subject and whole text (a forwarded mail is the
    point of its ticket), cut to `limit` characters, ending with the files that were not
    attached (too large, too many: they stay in the original mail)."""
    text = text.strip()
    if not text:
        text = (
            "(The mail had no text, only its files.)"
            if files.kept
            else "(The mail had no text; the original is kept with the ticket.)"
        )
    text = f"{subject}\n\n{text}" if subject else text
    note = files.note()
    return _fit(text, limit - len(note)) + note


def _uploads(files: MailFiles) -> list[Upload]:
    """The kept files as the form's uploads are: services.tickets stores them."""
    return [Upload(file.name, io.BytesIO(file.data)) for file in files.kept]


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT_NOTE)] + CUT_NOTE


def _refuse_unknown(
    engine: Engine, mail: IncomingMail, now: datetime, ticket_id: int | None
) -> Receipt:
    """An address without an account: rejected, with one polite answer (not to mail that is
    machine-made: the caller checked)."""
    origin = mail.origin
    reason = f"{origin.sender} has no account" + (
        f" (it answered {ticket_code(ticket_id)})" if ticket_id else ""
    )

    def work(conn: Connection) -> Receipt:
        if mail_store.known_message(conn, origin.message_id) is not None:
            return DUPLICATE
        kind = NoticeKind.REFUSED.value
        if mail_store.recently_mailed(conn, origin.sender, kind, now - REFUSAL_EVERY):
            # One answer a day per address: a flood of mail (or another desk that answers
            # our answers) gets no flood back.
            _record(conn, origin, InboundOutcome.REJECTED, reason + "; answered already today")
        else:
            _record(conn, origin, InboundOutcome.REJECTED, reason + "; answered politely")
            notification_store.record_refusal(
                conn, origin.sender, origin.message_id, origin.subject, now
            )
        return Receipt(InboundOutcome.REJECTED, None, reason)

    try:
        return run_transaction(engine, work)
    except IntegrityError:
        return DUPLICATE


def _new_requester(engine: Engine, address: str, display: str, now: datetime) -> Account:
    """A requester account without a password for a new sender (an admin can give it one on
    the People page, or it signs in through single sign-on). Named after the display name;
    when that name is taken, the address tells them apart."""
    local = address.partition("@")[0]
    key = email_key(address)
    candidates = []
    for name in (display, f"{display} ({address})" if display else "", local, address):
        try:
            candidates.append(validate_name(name))
        except ValidationError:
            continue
    for name in candidates:
        try:
            return account_service.create_account(
                engine, None, address, name, Role.REQUESTER.value, None, now
            )
        except TicketDeskError:
            found = read(engine, lambda conn: account_store.account_by_email(conn, key))
            if found is not None:  # made at this moment by another fetcher
                return found[0]
    raise ValidationError(f"No account could be made for {address[:100]}.")
