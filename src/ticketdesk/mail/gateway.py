"""`ticketdesk mail-gateway`: an SMTP (or LMTP) receiver (aiosmtpd) that the company's mail
server forwards the desk's mail to. It accepts mail for TICKETDESK_MAIL_ADDRESS (and its
plus-forms) only, and answers after the mail is stored: 250 once it is a ticket, a message or
an entry of the rejected-mail list; 552 for a mail over the size limit (kept on the list, and
the sender's server tells the sender); 451 while the database is away or the file store
cannot be written (the sending server tries again later, so nothing is lost)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from anyio import to_thread
from sqlalchemy import Engine

from ticketdesk.config import MailConfig
from ticketdesk.domain.errors import DatabaseUnavailable, FileStoreUnavailable
from ticketdesk.domain.mail import DeskAddress, InboundOutcome
from ticketdesk.mail.intake import handle

log = logging.getLogger("ticketdesk.mail")


class DeskHandler:
    """aiosmtpd handler: RCPT and DATA of the desk."""

    def __init__(self, engine: Engine, config: MailConfig, lmtp: bool) -> None:
        self.engine = engine
        self.config = config
        self.desk = DeskAddress(config.address)
        self.channel = "lmtp" if lmtp else "smtp"
        self.lmtp = lmtp

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.desk.accepts(address):
            return f"550 5.1.1 <{address[:100]}>: not a mailbox of this desk"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or b"")
        try:
            receipt = await to_thread.run_sync(self._handle, raw, envelope)
        except DatabaseUnavailable as exc:
            log.warning("gateway: %s", exc)
            status = "451 4.3.0 The desk's database is unavailable; try again later"
        except FileStoreUnavailable as exc:
            log.warning("gateway: %s", exc)
            status = "451 4.3.0 The desk cannot store files right now; try again later"
        else:
            log.info("gateway: %s", receipt.describe())
            too_large = receipt.reason is not None and receipt.reason.startswith("too large")
            if receipt.outcome is InboundOutcome.REJECTED and too_large:
                status = (
                    f"552 5.3.4 Message too big for the desk (limit "
                    f"{self.config.max_bytes / 1e6:.0f} MB)"
                )
            else:
                status = "250 2.0.0 OK: " + receipt.describe()[:200]
        if self.lmtp:  # RFC 2033: one reply per accepted recipient
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status

    def _handle(self, raw: bytes, envelope: Envelope) -> Any:
        return handle(
            self.engine,
            raw,
            channel=self.channel,
            config=self.config,
            now=datetime.now(UTC),
            envelope_sender=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
        )


class GatewayController(Controller):
    """aiosmtpd's Controller, speaking LMTP instead of SMTP when asked."""

    def __init__(
        self, handler: DeskHandler, host: str, port: int, lmtp: bool, data_size_limit: int
    ) -> None:
        self.lmtp = lmtp
        self.data_size_limit = data_size_limit
        super().__init__(handler, hostname=host, port=port, ready_timeout=10)

    def factory(self) -> SMTP:
        kind = LMTP if self.lmtp else SMTP
        return kind(
            self.handler,
            data_size_limit=self.data_size_limit,
            hostname=None,
            ident="ticketdesk mail gateway",
        )


def start_gateway(
    engine: Engine, config: MailConfig, host: str, port: int, lmtp: bool = False
) -> GatewayController:
    """Listen on host:port in a thread of its own; `stop()` ends it. Mail up to twice the
    size limit is read (and kept on the rejected list as too large); beyond that the
    connection is refused with 552 at once, without reading it all into memory."""
    controller = GatewayController(
        DeskHandler(engine, config, lmtp), host, port, lmtp, 2 * config.max_bytes
    )
    controller.start()
    return controller
