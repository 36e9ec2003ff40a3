"""Running the mail work: the outbox worker and, when TICKETDESK_IMAP_URL is set, the IMAP
fetcher, each in a thread, until asked to stop (`ticketdesk worker`, or the app server's
lifespan)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from ticketdesk.config import MailConfig
from ticketdesk.domain.errors import DatabaseUnavailable
from ticketdesk.mail.fetch import Fetcher
from ticketdesk.mail.worker import POLL_SECONDS, OutboxWorker

log = logging.getLogger("ticketdesk.mail")
RECONNECT_SECONDS = 5.0


@dataclass
class MailThreads:
    """The running threads and the event that stops them."""

    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, name: str, target: Callable[[threading.Event], None]) -> None:
        def run() -> None:
            try:
                target(self.stop)
            except Exception:  # a bug must not pass in silence: say so where operators look
                log.exception("%s stopped by an unexpected error", name)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)

    def wait(self) -> None:
        """Until every thread has ended (after `stop` is set)."""
        while any(t.is_alive() for t in self.threads):
            for thread in self.threads:
                thread.join(0.5)


def _when_reachable(
    get_engine: Callable[[], Engine], run: Callable[[Engine, threading.Event], None]
) -> Callable[[threading.Event], None]:
    """`run` once the database answers (the app server starts even while it does not)."""

    def target(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                engine = get_engine()
            except DatabaseUnavailable as exc:
                log.warning("mail waits for the database: %s", exc)
                stop.wait(RECONNECT_SECONDS)
                continue
            run(engine, stop)
            return

    return target


def start_mail_threads(
    get_engine: Callable[[], Engine], config: MailConfig, *, poll_seconds: float | None = None
) -> MailThreads:
    running = MailThreads()

    def deliver(engine: Engine, stop: threading.Event) -> None:
        OutboxWorker(engine, config, poll_seconds=poll_seconds or POLL_SECONDS).run(stop)

    running.start("outbox-worker", _when_reachable(get_engine, deliver))
    if config.imap is not None:

        def fetch(engine: Engine, stop: threading.Event) -> None:
            Fetcher(engine, config).run(stop)

        running.start("imap-fetcher", _when_reachable(get_engine, fetch))
    return running
