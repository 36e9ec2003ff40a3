"""Faults, with the real processes: `ticketdesk worker` and `ticketdesk mail-fetch` killed
(SIGKILL) five times at random moments while they send and fetch, and an SMTP server that is
down for a while. No mail is lost, none that the worker recorded as acknowledged is sent
again, none is stored twice.

Delivery is at least once (see ticketdesk.mail.worker): the one mail whose acknowledgement the
server had sent when the worker died, before the worker could record it, goes out again, with
the same Message-ID. So a mail may arrive twice only if it was in flight at a kill: at most
one per kill, and never one the database already called sent."""

from __future__ import annotations

import functools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from tests.support import imap as imap_support
from tests.support.imap import ImapServer
from tests.support.smtp import SmtpServer
from ticketdesk.domain.accounts import Account
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.schema import mail_inbox, mail_outbox, tickets

imap_server = imap_support.imap_server  # the fixture: a private dovecot per test

KILLS = 5
DESK = "support@desk.example"
SETTLE_S = 90.0
"""Upper bound for the processes to finish the work after the last kill."""


def wait_for(check: Callable[[], bool], what: str, timeout: float = SETTLE_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s", pytrace=False)
        time.sleep(0.1)


@contextmanager
def process(database: str, command: list[str], env: dict[str, str]) -> Iterator[Callable[[], None]]:
    """`ticketdesk <command>` as a process of its own; yields `kill_and_restart` (SIGKILL,
    reaped, started again); ended with SIGTERM at the end."""
    args = [sys.executable, "-m", "ticketdesk.cli", "--database-url", database, *command]
    full_env = {**os.environ, "TICKETDESK_MAIL_ADDRESS": DESK, **env}
    running = [subprocess.Popen(args, env=full_env, stdout=subprocess.DEVNULL)]

    def kill_and_restart() -> None:
        running[0].send_signal(signal.SIGKILL)
        running[0].wait(timeout=30)
        running[0] = subprocess.Popen(args, env=full_env, stdout=subprocess.DEVNULL)

    try:
        yield kill_and_restart
    finally:
        running[0].send_signal(signal.SIGTERM)
        try:
            running[0].wait(timeout=30)
        except subprocess.TimeoutExpired:
            running[0].kill()
            running[0].wait(timeout=30)


def outbox_states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(mail_outbox.c.message_id, mail_outbox.c.state))
        return {message_id: state for message_id, state in rows}


def file_tickets(engine: Engine, requester: Account, count: int, now: datetime) -> None:
    for n in range(count):
        ticket_service.create_ticket(engine, requester, f"Fault test {n}", "Low", now)


def test_killing_the_worker_while_it_sends_loses_no_mail(
    database: str, engine: Engine, requester: Account, now: datetime
) -> None:
    count = 40
    file_tickets(engine, requester, count, now)
    smtp = SmtpServer()
    smtp.handler.delay_s = 0.05  # a slow server: the kills land in the middle of sending
    smtp.start()
    recorded_sent: dict[str, int] = {}  # Message-ID: its copies when it was seen as sent
    rng = random.Random(20)
    try:
        env = {"TICKETDESK_SMTP_URL": smtp.url}
        with process(database, ["worker", "--poll-seconds", "0.2"], env) as kill_and_restart:
            for _ in range(KILLS):
                # Once this process is sending (the server got another mail), at a random
                # moment of the next few mails:
                got = len(smtp.received)
                wait_for(
                    functools.partial(lambda n: len(smtp.received) > n, got),
                    "the worker sending",
                    60,
                )
                time.sleep(rng.uniform(0.0, 0.25))
                # What the database calls sent now must never go out again: its copies at
                # the server now are all it will ever get.
                sent_now = {m for m, s in outbox_states(engine).items() if s == "sent"}
                copies = Counter(r.message["Message-ID"] for r in smtp.received)
                recorded_sent.update({m: copies[m] for m in sent_now})
                kill_and_restart()
            wait_for(lambda: set(outbox_states(engine).values()) == {"sent"}, "every mail sent")
    finally:
        smtp.stop()
    received = Counter(m["Message-ID"] for m in smtp.handler.messages())
    assert set(received) == set(outbox_states(engine))  # none lost
    twice = {message_id for message_id, n in received.items() if n > 1}
    assert len(twice) <= KILLS, twice
    again = {m for m, copies in recorded_sent.items() if received[m] != copies}
    assert not again, f"mails recorded as sent went out again: {again}"
    assert all(n <= 2 for n in received.values())
    assert recorded_sent, "the kills came too late to test anything"
    assert len(recorded_sent) < count, "the kills came too late to test anything"


def test_killing_the_fetcher_while_it_fetches_stores_each_mail_once(
    database: str, engine: Engine, requester: Account, imap_server: ImapServer
) -> None:
    count = 150  # about 7 ms each: enough that five kills land while the box is not empty
    imap_server.append(
        *(
            (
                f"From: Rita Requester <{requester.email}>\r\nTo: {DESK}\r\n"
                f"Subject: Fetched {n}\r\nMessage-ID: <fetched-{n}@example.com>\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\n\r\nBody {n}.\r\n"
            ).encode()
            for n in range(count)
        )
    )
    rng = random.Random(21)

    def stored() -> int:
        with engine.connect() as conn:
            return len(conn.execute(select(mail_inbox.c.id)).all())

    env = {"TICKETDESK_IMAP_URL": imap_server.url}
    with process(database, ["mail-fetch"], env) as kill_and_restart:
        for _ in range(KILLS):
            done = stored()
            wait_for(functools.partial(lambda n: stored() > n, done), "the fetcher storing", 60)
            time.sleep(rng.uniform(0.0, 0.1))
            kill_and_restart()
        killed_at = stored()
        wait_for(lambda: not imap_server.messages("INBOX"), "the box emptied")
    with engine.connect() as conn:
        issues = conn.execute(select(tickets.c.issue)).scalars().all()
        ids = conn.execute(select(mail_inbox.c.message_id)).scalars().all()
    assert sorted(ids) == sorted(f"<fetched-{n}@example.com>" for n in range(count))
    assert sorted(issues) == sorted(f"Fetched {n}\n\nBody {n}." for n in range(count))
    assert len(imap_server.messages("Handled")) == count
    assert killed_at < count, "the kills came too late to test anything"


def test_mail_waits_while_the_smtp_server_is_down_and_goes_out_after(
    database: str, engine: Engine, requester: Account, now: datetime
) -> None:
    smtp = SmtpServer()  # not started: down
    env = {"TICKETDESK_SMTP_URL": smtp.url, "TICKETDESK_MAIL_RETRY_SECONDS": "0.5"}
    with process(database, ["worker", "--poll-seconds", "0.2"], env):
        file_tickets(engine, requester, 5, now)
        wait_for(
            lambda: (
                all("cannot reach" in (e or "") for e in _errors(engine))
                and len(_errors(engine)) == 5
            ),
            "the worker tried and failed",
            timeout=30,
        )
        time.sleep(2.0)  # down for a while: the mails wait, tried again with back-off
        # Waiting: queued, or claimed for the next try at this moment; never given up on.
        assert set(outbox_states(engine).values()) <= {"queued", "sending"}
        assert smtp.received == []
        smtp.start()
        try:
            wait_for(lambda: set(outbox_states(engine).values()) == {"sent"}, "sent after")
        finally:
            smtp.stop()
    received = Counter(m["Message-ID"] for m in smtp.handler.messages())
    assert sorted(received) == sorted(outbox_states(engine))
    assert set(received.values()) == {1}


def _errors(engine: Engine) -> list[str | None]:
    with engine.connect() as conn:
        return list(conn.execute(select(mail_outbox.c.last_error)).scalars())
