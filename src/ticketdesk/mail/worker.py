"""The outbox worker: claims due mails, sends them over SMTP, records the server's answer.
`ticketdesk worker` runs it (with the IMAP fetcher) in a process of its own; the app server
runs it in a thread of its lifespan unless TICKETDESK_MAIL_IN_APP=0.

Every PRUNE_EVERY (and when it starts) it also deletes the mail sent longer ago than
TICKETDESK_OUTBOX_RETENTION_DAYS (services.outbox.prune_sent; the Message-IDs stay for
threading).

Delivery is at least once: a mail is marked sent right after the server's acknowledgement. A
worker killed between the server's acknowledgement and that mark leaves its claim behind; the
claim goes back to the queue (at once when the dead worker was a process of this machine,
else when its lease ends) and that one mail is sent again, with the same Message-ID, which
mail clients show once. Nothing the worker recorded as sent is ever sent again."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from ticketdesk.config import MailConfig
from ticketdesk.domain.errors import DatabaseUnavailable
from ticketdesk.mail.outbound import SendFailure, SmtpSender, build_message
from ticketdesk.services import outbox as outbox_service

log = logging.getLogger("ticketdesk.mail")

POLL_SECONDS = 1.0
"""How often an idle worker looks for due mail (one indexed read)."""
LEASE = timedelta(minutes=10)
"""How long a claim lasts: far longer than a batch takes (10 mails, 30 s timeouts)."""
BATCH = 10
PRUNE_EVERY = timedelta(hours=1)
"""How often a worker prunes the outbox (several workers may each do it: harmless)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """host:pid:random, so that a worker can tell the claims of dead processes of its own
    machine from those of live ones."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child that nobody has waited for yet is a zombie: gone all the same
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def dead_local_workers(names: set[str], me: str) -> frozenset[str]:
    """Of the workers holding claims, those that were processes of this machine and are gone."""
    host = socket.gethostname()
    dead = set()
    for name in names:
        parts = name.rsplit(":", 2)
        if name == me or len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if _process_gone(int(parts[1])):
            dead.add(name)
    return frozenset(dead)


class OutboxWorker:
    def __init__(
        self,
        engine: Engine,
        config: MailConfig,
        *,
        poll_seconds: float = POLL_SECONDS,
        lease: timedelta = LEASE,
        batch: int = BATCH,
        clock: Callable[[], datetime] = utc_now,
        prune_every: timedelta = PRUNE_EVERY,
    ) -> None:
        self.engine = engine
        self.config = config
        self.poll_seconds = poll_seconds
        self.lease = lease
        self.batch = batch
        self.clock = clock
        self.prune_every = prune_every
        self.name = worker_name()
        self._told_unconfigured = False
        self._pruned_at: datetime | None = None

    def prune_if_due(self) -> int:
        """Delete the sent mail past the retention, the first time at once, then at most once
        every `prune_every`; returns how many mails were deleted."""
        keep = self.config.retention
        now = self.clock()
        if keep is None or (
            self._pruned_at is not None and now - self._pruned_at < self.prune_every
        ):
            return 0
        pruned = outbox_service.prune_sent(self.engine, now, keep)
        self._pruned_at = now
        if pruned:
            log.info("pruned %d sent mail(s) older than %d days", pruned, keep.days)
        return pruned

    def run_once(self) -> int:
        """Send what is due now; returns how many mails were tried."""
        smtp = self.config.smtp
        if smtp is None:
            if not self._told_unconfigured:
                log.info("TICKETDESK_SMTP_URL is not set: mails stay in the outbox, unsent")
                self._told_unconfigured = True
            return 0
        dead = dead_local_workers(outbox_service.claimants(self.engine), self.name)
        mails = outbox_service.claim(
            self.engine,
            self.name,
            self.clock(),
            lease=self.lease,
            limit=self.batch,
            dead_workers=dead,
        )
        if not mails:
            return 0
        sender = SmtpSender(smtp, self.config.address)
        try:
            for number, mail in enumerate(mails):
                try:
                    sender.send(build_message(mail, self.config.address), mail.row.recipient)
                except SendFailure as failure:
                    self._failed(mail.row.id, failure)
                    if failure.connection_lost:  # the rest of the batch waits as well
                        for rest in mails[number + 1 :]:
                            self._failed(rest.row.id, failure)
                        break
                    continue
                outbox_service.delivered(self.engine, mail.row.id, self.name, self.clock())
                log.info("sent %s to %s", mail.row.message_id, mail.row.recipient)
        finally:
            sender.close()
        return len(mails)

    def _failed(self, outbox_id: int, failure: SendFailure) -> None:
        state = outbox_service.delivery_failed(
            self.engine,
            outbox_id,
            self.name,
            failure.reason,
            permanent=failure.permanent,
            now=self.clock(),
            retry_seconds=self.config.retry_seconds,
        )
        log.warning("mail %s not sent (%s): %s", outbox_id, state.value, failure.reason)

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; a database that is away is waited for."""
        log.info("outbox worker %s started", self.name)
        while not stop.is_set():
            try:
                self.prune_if_due()
                handled = self.run_once()
            except DatabaseUnavailable as exc:
                log.warning("outbox worker: %s", exc)
                handled = 0
            if not handled:
                stop.wait(self.poll_seconds)
        log.info("outbox worker %s stopped", self.name)
