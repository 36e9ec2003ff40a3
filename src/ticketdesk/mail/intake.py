"""One received mail, from either way in (the IMAP fetcher, the SMTP/LMTP gateway), read and
handed to services.inbound: too large and unreadable mail is kept on the rejected-mail list
with the reason, everything else is decided there."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from sqlalchemy import Engine

from ticketdesk.config import MailConfig
from ticketdesk.domain.mail import DeskAddress, InboundOutcome, MailOrigin, normalise_message_id
from ticketdesk.mail.parse import Unreadable, parse
from ticketdesk.services import inbound
from ticketdesk.services.inbound import IncomingMail, Receipt

HEADER_BYTES_KEPT = 64 * 1024
"""Of a mail too large to handle, its header block is kept (up to this much)."""


def _fallback_id(raw: bytes) -> str:
    return f"<sha256.{hashlib.sha256(raw).hexdigest()[:40]}@ticketdesk.invalid>"


def _header_block(raw: bytes) -> bytes:
    for end in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(end, 0, HEADER_BYTES_KEPT)
        if at >= 0:
            return raw[: at + len(end)]
    return raw[:HEADER_BYTES_KEPT]


def _decoded_header(value: str) -> str:
    with contextlib.suppress(ValueError, LookupError, UnicodeError):  # else shown as it came
        value = str(make_header(decode_header(value)))
    return " ".join(value.split())


def _first_address(value: str) -> str:
    for _, address in getaddresses([value]):
        if "@" in address:
            return address
    return value.strip()[:254]


def _origin_from_headers(
    raw: bytes, kept: bytes, channel: str, now: datetime, size: int | None = None
) -> MailOrigin:
    """A mail that is not handled, as the rejected-mail list keeps it: what its headers say
    (read leniently), and `kept` (the whole mail, or only its header block)."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(_header_block(raw))
    return MailOrigin(
        message_id=normalise_message_id(str(headers.get("Message-ID") or "")) or _fallback_id(raw),
        channel=channel,
        sender=_first_address(str(headers.get("From") or "")),
        subject=_decoded_header(str(headers.get("Subject") or ""))[:300],
        size=len(raw) if size is None else size,
        raw=kept,
        received_at=now,
    )


def handle(
    engine: Engine,
    raw: bytes,
    *,
    channel: str,
    config: MailConfig,
    now: datetime,
    envelope_sender: str | None = None,
    recipients: Sequence[str] = (),
    size: int | None = None,
) -> Receipt:
    """What `raw` becomes (services.inbound.Receipt). `envelope_sender` and `recipients` are
    the SMTP envelope's, where there is one; else Return-Path and the address headers.
    `size`: the mail's size when `raw` is only its header block (a mailbox's mail that is too
    large to download)."""
    desk = DeskAddress(config.address)
    size = len(raw) if size is None else size
    if size > config.max_bytes:
        reason = (
            f"too large: {size / 1e6:.1f} MB, the limit is {config.max_bytes / 1e6:.1f} MB "
            "(TICKETDESK_MAIL_MAX_BYTES); only its headers are kept"
        )
        origin = _origin_from_headers(raw, _header_block(raw), channel, now, size)
        return inbound.reject(engine, origin, reason, InboundOutcome.REJECTED)
    try:
        mail = parse(raw)
    except Unreadable as exc:
        origin = _origin_from_headers(raw, raw, channel, now)
        return inbound.reject(engine, origin, str(exc), InboundOutcome.REJECTED)
    addressed = list(recipients) or [
        address
        for name in ("to", "cc", "delivered-to", "x-original-to")
        for _, address in getaddresses([mail.headers.get(name, "")])
    ]
    plus = [t for t in (desk.plus_token(a) for a in addressed) if t is not None]
    if envelope_sender is None and "return-path" in mail.headers:
        envelope_sender = mail.headers["return-path"]
    incoming = IncomingMail(
        origin=MailOrigin(
            message_id=mail.message_id,
            channel=channel,
            sender=mail.sender,
            subject=mail.subject,
            size=size,
            raw=raw,
            received_at=now,
        ),
        sender_name=mail.sender_name,
        references=mail.references,
        headers=mail.headers,
        envelope_sender=envelope_sender,
        plus_tokens=plus,
        text=mail.text,
        full_text=mail.full_text,
        attachments=mail.attachments,
    )
    return inbound.receive(engine, incoming, desk, now)
