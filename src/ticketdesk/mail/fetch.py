"""`ticketdesk mail-fetch`: reads the mailbox of TICKETDESK_IMAP_URL (imapclient), hands each
mail to the intake and then moves it to the `done` folder (default "Handled"). IDLE where the
server has it (a new mail is read within a second or two), else polling.

A mail is moved only after the intake stored it: a fetcher killed in between finds it again
next time, and the intake recognises its Message-ID (stored once). Every round's outcome is
written to the desk (the Outbox page shows when the mailbox was last read, or why not), so a
fetcher that stops working does not stop in silence."""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import Engine

from ticketdesk.config import MailConfig, ServerUrl
from ticketdesk.domain.errors import DatabaseUnavailable, FileStoreUnavailable
from ticketdesk.mail.intake import handle
from ticketdesk.services import outbox as outbox_service

log = logging.getLogger("ticketdesk.mail")

POLL_SECONDS = 30.0
"""Between two reads of a mailbox without IDLE."""
IDLE_SECONDS = 240.0
"""An IDLE is renewed this often (servers drop it after 30 minutes; NATs sooner)."""
RETRY_SECONDS = 30.0
"""After a failed connection: wait this long before trying again."""
IMAP_TIMEOUT_S = 60.0
DEFAULT_DONE_FOLDER = "Handled"


class FetchFailed(Exception):
    """The mailbox could not be read (the message says why, without the password)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def connect(url: ServerUrl) -> IMAPClient:
    """Log in and select the mailbox; imap:// uses STARTTLS when the server offers it
    (`?starttls=required` insists), imaps:// TLS from the start."""
    context = ssl.create_default_context()
    try:
        client = IMAPClient(
            url.host, port=url.port, ssl=url.tls, ssl_context=context, timeout=IMAP_TIMEOUT_S
        )
        if not url.tls:
            if client.has_capability("STARTTLS"):
                client.starttls(context)
            elif url.options.get("starttls", "").lower() == "required":
                client.logout()
                raise FetchFailed(f"{url.redacted()} does not offer STARTTLS, which is required")
        client.login(url.username or "", url.password or "")
        client.select_folder(url.path or "INBOX")
    except FetchFailed:
        raise
    except (OSError, IMAPClientError) as exc:
        raise FetchFailed(f"cannot read {url.redacted()}: {exc or type(exc).__name__}") from None
    return client


class Fetcher:
    def __init__(
        self,
        engine: Engine,
        config: MailConfig,
        *,
        poll_seconds: float = POLL_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if config.imap is None:
            raise ValueError("TICKETDESK_IMAP_URL is not set: there is no mailbox to read")
        self.engine = engine
        self.config = config
        self.url: ServerUrl = config.imap
        self.done_folder = self.url.options.get("done", DEFAULT_DONE_FOLDER)
        self.poll_seconds = poll_seconds
        self.idle_seconds = idle_seconds
        self.retry_seconds = retry_seconds
        self.clock = clock

    def _report(self, text: str) -> None:
        with contextlib.suppress(DatabaseUnavailable):  # said in the log already
            outbox_service.set_fetch_status(self.engine, text, self.clock())

    def fetch_all(self, client: IMAPClient) -> int:
        """Handle every mail in the selected mailbox; returns how many were handled. Stops
        (leaving the rest where it is) if the database is away."""
        if not client.folder_exists(self.done_folder):
            client.create_folder(self.done_folder)
        uids = sorted(client.search(["ALL"]))
        handled = 0
        if not uids:
            return 0
        sizes = client.fetch(uids, ["RFC822.SIZE"])
        for uid in uids:
            if uid not in sizes:
                continue  # gone meanwhile (another fetcher moved it)
            size = int(sizes[uid].get(b"RFC822.SIZE", 0))
            if size > self.config.max_bytes:
                found = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
                part, declared = found.get(b"BODY[HEADER]"), size
            else:
                found = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
                part, declared = found.get(b"BODY[]"), None
            if part is None:
                continue  # gone meanwhile
            raw = bytes(part)
            receipt = handle(
                self.engine,
                raw,
                channel="imap",
                config=self.config,
                now=self.clock(),
                size=declared,
            )
            log.info("mail-fetch: uid %s %s", uid, receipt.describe())
            self._move(client, uid)
            handled += 1
        return handled

    def _move(self, client: IMAPClient, uid: int) -> None:
        if client.has_capability("MOVE"):
            client.move([uid], self.done_folder)
            return
        client.copy([uid], self.done_folder)
        client.delete_messages([uid])
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:
            client.expunge()

    def fetch_once(self) -> int:
        """One connection, every mail in the box, logout (`ticketdesk mail-fetch --once`)."""
        client = connect(self.url)
        try:
            handled = self.fetch_all(client)
        finally:
            with contextlib.suppress(OSError, IMAPClientError):
                client.logout()
        self._report(f"read {self.url.redacted()} at {self.clock():%Y-%m-%d %H:%M:%S} UTC")
        return handled

    def run(self, stop: threading.Event) -> None:
        """Read the mailbox until `stop`: IDLE where the server has it, else polling;
        reconnect after any failure, saying why in the log and on the Outbox page."""
        log.info("mail-fetch: reading %s", self.url.redacted())
        while not stop.is_set():
            try:
                client = connect(self.url)
            except FetchFailed as exc:
                log.warning("mail-fetch: %s; again in %.0f s", exc, self.retry_seconds)
                self._report(f"{exc} ({self.clock():%Y-%m-%d %H:%M:%S} UTC)")
                stop.wait(self.retry_seconds)
                continue
            try:
                self._serve(client, stop)
            except (DatabaseUnavailable, FileStoreUnavailable) as exc:
                # The mail stays in the box (it is moved only once stored) for the next try.
                log.warning("mail-fetch: %s", exc)
                self._report(f"{exc} ({self.clock():%Y-%m-%d %H:%M:%S} UTC)")
                stop.wait(self.retry_seconds)
            except (OSError, IMAPClientError) as exc:
                text = f"lost {self.url.redacted()}: {exc or type(exc).__name__}"
                log.warning("mail-fetch: %s; reconnecting", text)
                self._report(f"{text} ({self.clock():%Y-%m-%d %H:%M:%S} UTC)")
                stop.wait(min(self.retry_seconds, 5.0))
            finally:
                with contextlib.suppress(OSError, IMAPClientError):
                    client.logout()
        log.info("mail-fetch: stopped")

    def _serve(self, client: IMAPClient, stop: threading.Event) -> None:
        idle = client.has_capability("IDLE")
        while not stop.is_set():
            self.fetch_all(client)
            self._report(f"read {self.url.redacted()} at {self.clock():%Y-%m-%d %H:%M:%S} UTC")
            if not idle:
                stop.wait(self.poll_seconds)
                continue
            client.idle()
            started = self.clock()
            try:
                while not stop.is_set():
                    if client.idle_check(timeout=1):
                        break  # something arrived (or changed): read the box
                    if (self.clock() - started).total_seconds() > self.idle_seconds:
                        break
            finally:
                client.idle_done()
