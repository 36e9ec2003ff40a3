"""Mail rules that need no database and no network: Message-IDs, the desk's own addresses,
which mail is machine-made (and so never files a ticket nor gets an answer), the ticket token
of a subject or a plus-address, and the outbox's retry schedule."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ticketdesk.domain.errors import TicketDeskError

MESSAGE_ID_MAX_CHARS = 250
"""Stored Message-IDs (with their angle brackets); longer ones are cut (no real one is)."""

DEFAULT_MAX_BYTES = 25_000_000  # 25 MB in the uploader's units (10^6 bytes), like the files limit
"""Largest incoming mail handled (TICKETDESK_MAIL_MAX_BYTES); larger ones are rejected."""

MAX_ATTEMPTS = 8
"""Deliveries tried before an outgoing mail is marked failed (back-off 1, 2, 4 … 64 times the
base: about 4 hours with the default base of a minute)."""


class MailState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker, whose lease says until when
    SENT = "sent"
    FAILED = "failed"


class InboundOutcome(StrEnum):
    FILED = "filed"  # a new ticket
    REPLY = "reply"  # a message on an existing ticket
    IGNORED = "ignored"  # machine-made mail: no ticket, no answer
    REJECTED = "rejected"  # could not be handled (reason kept)


class DuplicateMail(TicketDeskError):
    """This Message-ID was received before; nothing was stored again."""


def new_message_id(domain: str) -> str:
    """A Message-ID of the desk's own (RFC 5322): random, so no two desks or restarts share
    one."""
    return f"<{secrets.token_hex(16)}@{domain}>"


def normalise_message_id(value: str | None) -> str | None:
    """`<id@host>` as stored and compared: whitespace removed, angle brackets added, cut to
    MESSAGE_ID_MAX_CHARS; None for an empty header."""
    if value is None:
        return None
    text = re.sub(r"\s+", "", value).strip("<>")
    if not text:
        return None
    return f"<{text}>"[:MESSAGE_ID_MAX_CHARS]


_MSG_ID = re.compile(r"<[^<>\s]+>")


def referenced_ids(in_reply_to: str | None, references: str | None) -> list[str]:
    """Every Message-ID an incoming mail answers, the most direct first: In-Reply-To, then
    References from the newest (last) to the root."""
    found: list[str] = []
    for header in (in_reply_to or "", " ".join(reversed(_MSG_ID.findall(references or "")))):
        for raw in _MSG_ID.findall(header):
            normal = normalise_message_id(raw)
            if normal is not None and normal not in found:
                found.append(normal)
    return found


def address_domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class DeskAddress:
    """The desk's own address (TICKETDESK_MAIL_ADDRESS): the From and Reply-To of its mails,
    and what the gateway accepts, also with a plus-part (support+TICKET-12@…)."""

    address: str

    @property
    def local(self) -> str:
        return self.address.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return address_domain(self.address)

    def plus_token(self, recipient: str) -> str | None:
        """The part after `+` when `recipient` is this address with one, else None."""
        local, _, domain = recipient.strip().strip("<>").rpartition("@")
        if domain.casefold() != self.domain.casefold():
            return None
        base, plus, token = local.partition("+")
        if base.casefold() != self.local.casefold() or not plus:
            return None
        return token

    def accepts(self, recipient: str) -> bool:
        """Whether mail to `recipient` is mail to the desk (the address or a plus-form)."""
        bare = recipient.strip().strip("<>")
        return bare.casefold() == self.address.casefold() or self.plus_token(bare) is not None


_TICKET_TOKEN = re.compile(r"\[TICKET-([1-9][0-9]{0,17})\]", re.IGNORECASE)
_PLUS_TOKEN = re.compile(r"^TICKET-([1-9][0-9]{0,17})$", re.IGNORECASE)


def subject_ticket(subject: str) -> int | None:
    """The ticket a subject names with `[TICKET-n]` (the last one, as replies add prefixes
    in front), else None."""
    found = _TICKET_TOKEN.findall(subject or "")
    return int(found[-1]) if found else None


def plus_ticket(token: str | None) -> int | None:
    match = _PLUS_TOKEN.match(token or "")
    return int(match.group(1)) if match else None


_MAILER_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)


def machine_made(headers: Mapping[str, str], envelope_sender: str | None) -> str | None:
    """Why a mail is an auto-reply, a bounce or bulk mail (RFC 3834, RFC 2076, RFC 3464 and
    what the big mail services send), or None for a mail a person wrote. Such mail never files
    a ticket and never gets an answer. `headers` are case-insensitive lookups (first value);
    `envelope_sender` is the SMTP MAIL FROM or the Return-Path ('' for the null sender)."""
    auto = (headers.get("auto-submitted") or "").strip().lower()
    if auto and auto != "no":
        return f"auto-submitted mail (Auto-Submitted: {auto[:40]})"
    precedence = (headers.get("precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"bulk mail (Precedence: {precedence})"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress-reply"):
        if headers.get(name):
            return f"an auto-reply ({name}: {headers[name][:40]})"
    if headers.get("list-id") or headers.get("list-unsubscribe"):
        return "mailing-list mail (List-Id)"
    if envelope_sender is not None and envelope_sender.strip().strip("<>") == "":
        return "a bounce or notice (null sender <>)"
    sender = (headers.get("from") or "").strip().lower()
    address = sender.rpartition("<")[2].rstrip(">").strip() if "<" in sender else sender
    if _MAILER_DAEMONS.match(address):
        return f"a bounce from {address[:60]}"
    content_type = (headers.get("content-type") or "").lower()
    if "multipart/report" in content_type:
        return "a delivery report (multipart/report)"
    return None


def next_attempt(attempts: int, now: datetime, base_seconds: float) -> datetime | None:
    """When to try an outgoing mail again after its `attempts`-th failed try (1, 2, 4 …
    times `base_seconds`), or None when it has had MAX_ATTEMPTS and is failed for good."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(seconds=base_seconds * 2 ** (attempts - 1))


def first_line(text: str, limit: int = 70) -> str:
    """The first non-empty line of `text`, cut to `limit` characters with an ellipsis."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


@dataclass(frozen=True)
class MailOrigin:
    """Where a ticket or message came from when it came by mail: the mail is kept with it
    (raw, compressed), and its Message-ID threads the replies."""

    message_id: str
    channel: str  # imap, smtp, lmtp
    sender: str
    subject: str
    size: int
    raw: bytes | None
    received_at: datetime
