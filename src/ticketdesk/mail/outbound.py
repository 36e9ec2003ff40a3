"""Outgoing mail: an outbox row as a MIME message (text and HTML, the threading headers, the
RFC 3834 marks) and its delivery over SMTP with smtplib (STARTTLS when offered, or required,
or TLS from the start)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from ticketdesk.config import ServerUrl
from ticketdesk.domain.mail_text import DESK_NAME
from ticketdesk.domain.notifications import NoticeKind
from ticketdesk.services.outbox import OutgoingMail

SMTP_TIMEOUT_S = 30.0


def build_message(mail: OutgoingMail, desk_address: str) -> EmailMessage:
    """The mail as it goes out; the same bytes' worth of headers on every try (its
    Message-ID and Date are the outbox row's)."""
    row = mail.row
    message = EmailMessage()
    message["From"] = formataddr((DESK_NAME, desk_address))
    message["To"] = formataddr((row.recipient_name or "", row.recipient))
    message["Reply-To"] = desk_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = row.message_id
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        message["References"] = " ".join(mail.references)
    # RFC 3834: a notification is auto-generated, the answer to a refused sender auto-replied;
    # either way no well-behaved responder answers it, and no desk files it.
    replied = row.kind == NoticeKind.REFUSED.value
    message["Auto-Submitted"] = "auto-replied" if replied else "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office answers to it
    message.set_content(row.body_text)
    message.add_alternative(row.body_html, subtype="html")
    return message


class SendFailure(Exception):
    """A delivery failed; `permanent` when the server refused it for good (5xx), else it is
    worth trying again later; `reason` is the server's own words where it gave some;
    `connection_lost`: the session is gone (the rest of a batch waits too)."""

    def __init__(self, reason: str, *, permanent: bool, connection_lost: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.connection_lost = connection_lost


def _reply_text(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {words}".strip()


class SmtpSender:
    """One SMTP session (opened on first use, reused for a batch, closed by `close`)."""

    def __init__(self, url: ServerUrl, envelope_from: str, timeout: float = SMTP_TIMEOUT_S):
        self.url = url
        self.envelope_from = envelope_from
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        url = self.url
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if url.tls:
                smtp = smtplib.SMTP_SSL(url.host, url.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(url.host, url.port, timeout=self.timeout)
            smtp.ehlo()
            if not url.tls:
                insist = url.options.get("starttls", "").lower() == "required"
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif insist:
                    smtp.close()
                    raise SendFailure(
                        f"{url.redacted()} does not offer STARTTLS, which the URL requires "
                        "(?starttls=required); nothing was sent",
                        permanent=False,
                        connection_lost=True,
                    )
            if url.username:
                smtp.login(url.username, url.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailure(
                f"{url.redacted()} refused the login: {_reply_text(exc.smtp_code, exc.smtp_error)}",
                permanent=False,
                connection_lost=True,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendFailure(
                f"{url.redacted()}: {exc}", permanent=False, connection_lost=True
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailure(
                f"cannot reach {url.redacted()}: {exc or type(exc).__name__}",
                permanent=False,
                connection_lost=True,
            ) from None
        return smtp

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Hand `message` to the server for `recipient`; returns once the server has
        acknowledged it (250 after the data), else raises SendFailure."""
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(message, self.envelope_from, [recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            self._reset()
            raise SendFailure(_reply_text(code, text), permanent=code >= 500) from None
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise SendFailure(
                _reply_text(exc.smtp_code, exc.smtp_error), permanent=exc.smtp_code >= 500
            ) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise SendFailure(
                f"lost the connection to {self.url.redacted()}: {exc or type(exc).__name__}",
                permanent=False,
                connection_lost=True,
            ) from None

    def _reset(self) -> None:
        """After a refused mail, the session goes on with the next (RSET)."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
