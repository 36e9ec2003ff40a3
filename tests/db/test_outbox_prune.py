"""Pruning the outboxes (TICKETDESK_OUTBOX_RETENTION_DAYS), on both backends: sent mail and
delivered webhooks past the retention go, queued, failed and pending rows never do; the
Message-IDs of pruned mail still thread answers, head the References of the next mail and
stop the desk's own mail coming back; the worker prunes when it starts and then hourly;
`ticketdesk outbox-prune`; two pruners at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from tests.support.receiver import Receiver
from tests.support.smtp import SmtpServer
from ticketdesk.config import MailConfig, WebhookSettings, mail_config
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.mail import InboundOutcome, new_message_id
from ticketdesk.mail.intake import handle
from ticketdesk.mail.worker import OutboxWorker
from ticketdesk.services import outbox as outbox_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services import webhook_worker
from ticketdesk.services import webhooks as webhook_service
from ticketdesk.store import mail as mail_store
from ticketdesk.store.db import run_transaction
from ticketdesk.store.schema import mail_outbox, mail_sent_ids, webhook_deliveries

DESK = "support@desk.example"
KEEP = timedelta(days=30)
COMMAND = [sys.executable, "-m", "ticketdesk.cli", "--database-url"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def config(smtp: SmtpServer, **extra: str) -> MailConfig:
    return mail_config({"TICKETDESK_MAIL_ADDRESS": DESK, "TICKETDESK_SMTP_URL": smtp.url, **extra})


def outbox(engine: Engine) -> list[tuple[int | None, str, str]]:
    """(ticket, kind, state) of every outbox row, oldest first."""
    o = mail_outbox.c
    with engine.connect() as conn:
        rows = conn.execute(select(o.ticket_id, o.kind, o.state).order_by(o.id))
        return [tuple(r) for r in rows]


def sent_ids(engine: Engine) -> list[tuple[str, int | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(mail_sent_ids.c.message_id, mail_sent_ids.c.ticket_id).order_by(
                mail_sent_ids.c.outbox_id
            )
        )
        return [tuple(r) for r in rows]


def message_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        query = select(mail_outbox.c.message_id).order_by(mail_outbox.c.id)
        return list(conn.execute(query).scalars())


@pytest.fixture
def desk(
    engine: Engine,
    smtp: SmtpServer,
    requester: Account,
    other_requester: Account,
    agent: Account,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> Clock:
    """At `now`: TICKET-1 by Rita, answered by Ana, both mails sent; TICKET-2 by Otto, whose
    confirmation the server refused for good (failed); TICKET-3 by Otto, its mail still
    queued. Returns the worker's clock."""
    monkeypatch.setenv("TICKETDESK_MAIL_ADDRESS", DESK)
    clock = Clock(now)
    worker = OutboxWorker(engine, config(smtp), clock=clock)
    first = ticket_service.create_ticket(
        engine, requester, "Printer prints blank pages", "High", now
    )
    ticket_service.add_message(engine, agent, first.id, "reply", "Please clean the drum.", now)
    assert worker.run_once() == 2
    ticket_service.create_ticket(engine, other_requester, "Monitor flickers", "Low", now)
    smtp.handler.refuse_with = "550 5.1.1 <otto> No such user here"
    assert worker.run_once() == 1
    smtp.handler.refuse_with = None
    ticket_service.create_ticket(engine, other_requester, "Mouse is gone", "Low", now)
    assert outbox(engine) == [
        (1, "filed", "sent"),
        (1, "reply", "sent"),
        (2, "filed", "failed"),
        (3, "filed", "queued"),
    ]
    return clock


def test_sent_mail_past_the_retention_goes_and_queued_or_failed_mail_never_does(
    engine: Engine, desk: Clock, now: datetime
) -> None:
    filed, reply, _, _ = message_ids(engine)
    assert outbox_service.prune_sent(engine, now + KEEP, KEEP) == 0  # sent exactly 30 days ago
    assert outbox_service.prune_sent(engine, now + KEEP + timedelta(seconds=1), KEEP) == 2
    assert outbox(engine) == [(2, "filed", "failed"), (3, "filed", "queued")]
    assert sent_ids(engine) == [(filed, 1), (reply, 1)]
    # A year on, the failed and the queued mail are still there; nothing more is pruned.
    assert outbox_service.prune_sent(engine, now + timedelta(days=365), KEEP) == 0
    assert outbox(engine) == [(2, "filed", "failed"), (3, "filed", "queued")]


def test_pruned_mail_still_threads_answers_and_the_next_mails_references(
    engine: Engine, desk: Clock, agent: Account, admin: Account, now: datetime
) -> None:
    filed, reply, _, _ = message_ids(engine)
    later = now + timedelta(days=40)
    assert outbox_service.prune_sent(engine, later, KEEP) == 2

    # Rita answers the pruned reply, without any [TICKET-n] in the subject.
    answer = (
        f"From: Rita Requester <rita.requester@example.com>\r\nTo: {DESK}\r\n"
        f"Subject: Re: blank pages\r\nMessage-ID: <rita-answer-1@example.com>\r\n"
        f"In-Reply-To: {reply}\r\nReferences: {filed} {reply}\r\n\r\nIt is back.\r\n"
    ).encode()
    settings = mail_config({"TICKETDESK_MAIL_ADDRESS": DESK})
    receipt = handle(engine, answer, channel="smtp", config=settings, now=later)
    assert (receipt.outcome, receipt.ticket_id) == (InboundOutcome.REPLY, 1)

    # Ana's next reply threads after all of them: the pruned ones included.
    ticket_service.add_message(engine, agent, 1, "reply", "A technician comes.", later)
    newest = outbox_service.outbox(engine, admin).mails[0]
    assert (newest.row.ticket_id, newest.row.kind) == (1, "reply")
    assert newest.in_reply_to == "<rita-answer-1@example.com>"
    assert newest.references == [filed, reply, "<rita-answer-1@example.com>"]

    # The desk's own pruned mail coming back (a misconfigured forward) files nothing.
    echo = (
        f"From: Ticket desk <{DESK.replace('support', 'help')}>\r\nTo: {DESK}\r\n"
        f"Subject: Received\r\nMessage-ID: {filed}\r\n\r\nYour ticket\r\n"
    ).encode()
    came_back = handle(engine, echo, channel="smtp", config=settings, now=later)
    assert (came_back.outcome, came_back.reason) == (
        InboundOutcome.IGNORED,
        "the desk's own mail came back",
    )


def test_the_worker_prunes_when_it_starts_and_then_hourly(
    engine: Engine, smtp: SmtpServer, requester: Account, now: datetime
) -> None:
    clock = Clock(now)
    worker = OutboxWorker(engine, config(smtp), clock=clock)
    ticket_service.create_ticket(engine, requester, "First", "Low", now)
    assert worker.run_once() == 1  # sent at now
    clock.now = now + timedelta(minutes=30)
    ticket_service.create_ticket(engine, requester, "Second", "Low", clock.now)
    assert worker.run_once() == 1  # sent at now + 30 min

    clock.now = now + KEEP + timedelta(minutes=10)
    assert worker.prune_if_due() == 1  # the first; the second is 20 minutes short of 30 days
    clock.now = now + KEEP + timedelta(minutes=50)
    assert worker.prune_if_due() == 0  # the second is due, but the last prune was 40 min ago
    clock.now = now + KEEP + timedelta(minutes=70)
    assert worker.prune_if_due() == 1
    assert outbox(engine) == []
    assert [t for _, t in sent_ids(engine)] == [1, 2]


def test_a_retention_of_0_keeps_everything(
    engine: Engine, smtp: SmtpServer, desk: Clock, now: datetime
) -> None:
    clock = Clock(now + timedelta(days=3650))
    forever = OutboxWorker(engine, config(smtp, TICKETDESK_OUTBOX_RETENTION_DAYS="0"), clock=clock)
    assert forever.prune_if_due() == 0
    assert len(outbox(engine)) == 4


def test_delivered_webhooks_past_the_retention_go_and_pending_ones_never_do(
    engine: Engine, admin: Account, requester: Account, receiver: Receiver, now: datetime
) -> None:
    webhook_service.subscribe(engine, admin, receiver.url, ("ticket.created",), False, True, now)
    settings = WebhookSettings(timeout_s=2)
    ticket_service.create_ticket(engine, requester, "Delivered", "Low", now)
    with webhook_worker.make_client(settings) as client:
        assert webhook_worker.deliver_due(engine, client, settings, lambda: now) == 1
    ticket_service.create_ticket(engine, requester, "Still pending", "Low", now)

    def states() -> list[tuple[int, str]]:
        d = webhook_deliveries.c
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(d.ticket_id, d.state).order_by(d.id))]

    assert states() == [(1, "delivered"), (2, "pending")]
    assert webhook_service.prune_delivered(engine, now + KEEP, KEEP) == 0
    assert webhook_service.prune_delivered(engine, now + timedelta(days=31), KEEP) == 1
    assert states() == [(2, "pending")]
    assert webhook_service.prune_delivered(engine, now + timedelta(days=365), KEEP) == 0
    assert states() == [(2, "pending")]


def test_the_command_prunes_both_outboxes(
    database: str, engine: Engine, smtp: SmtpServer, requester: Account
) -> None:
    """Mail sent two days before the real clock's now: kept by the default 30 days and by
    --days 3, pruned by --days 1; a retention of 0 prunes nothing."""
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    ticket_service.create_ticket(engine, requester, "Old news", "Low", two_days_ago)
    assert OutboxWorker(engine, config(smtp), clock=Clock(two_days_ago)).run_once() == 1

    def prune(*options: str, **env: str) -> str:
        done = subprocess.run(
            [*COMMAND, database, "outbox-prune", *options],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    none = "Deleted 0 sent mail(s) and 0 delivered webhook(s) older than {} day(s)\n"
    assert prune(TICKETDESK_OUTBOX_RETENTION_DAYS="") == none.format(30)
    assert prune("--days", "3") == none.format(3)
    assert prune(TICKETDESK_OUTBOX_RETENTION_DAYS="0") == (
        "TICKETDESK_OUTBOX_RETENTION_DAYS is 0: the outboxes are kept whole; nothing pruned\n"
    )
    assert prune("--days", "1") == (
        "Deleted 1 sent mail(s) and 0 delivered webhook(s) older than 1 day(s)\n"
    )
    assert outbox(engine) == []
    assert [t for _, t in sent_ids(engine)] == [1]


def test_two_pruners_at_once_prune_each_mail_once(engine: Engine, now: datetime) -> None:
    """300 sent mails, two pruners in batches of 7 at the same time (two workers' hourly
    prunes meeting): every mail pruned by one of them, every Message-ID kept once."""
    rows = [
        {
            "message_id": new_message_id("desk.example"),
            "ticket_id": None,
            "kind": "refused",
            "recipient_id": None,
            "recipient": f"person{n}@example.com",
            "recipient_name": None,
            "subject": "Your mail was not filed",
            "body_text": "Sorry.\n",
            "body_html": "<p>Sorry.</p>",
            "in_reply_to": None,
        }
        for n in range(300)
    ]
    run_transaction(engine, lambda conn: mail_store.queue(conn, rows, now))
    claimed = outbox_service.claim(engine, "test", now, lease=timedelta(minutes=5), limit=300)
    for mail in claimed:
        outbox_service.delivered(engine, mail.row.id, "test", now)
    counts: list[int] = []
    start = threading.Barrier(2)

    def prune() -> None:
        start.wait()
        counts.append(outbox_service.prune_sent(engine, now + timedelta(days=31), KEEP, 7))

    pruners = [threading.Thread(target=prune) for _ in range(2)]
    for pruner in pruners:
        pruner.start()
    for pruner in pruners:
        pruner.join(120)
    assert sum(counts) == 300
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(mail_outbox)).scalar_one() == 0
        kept = conn.execute(select(mail_sent_ids.c.message_id)).scalars().all()
    assert sorted(kept) == sorted(str(r["message_id"]) for r in rows)


def test_the_webhook_worker_prunes_when_it_starts(
    engine: Engine, admin: Account, requester: Account, receiver: Receiver
) -> None:
    """Its loop prunes before its first pass: a delivery delivered 31 days ago is gone once
    the worker has run, one from today stays."""
    long_ago = datetime.now(UTC) - timedelta(days=31)
    webhook_service.subscribe(
        engine, admin, receiver.url, ("ticket.created",), False, True, long_ago
    )
    settings = WebhookSettings(timeout_s=2, poll_s=0.05)
    ticket_service.create_ticket(engine, requester, "Long ago", "Low", long_ago)
    with webhook_worker.make_client(settings) as client:
        assert webhook_worker.deliver_due(engine, client, settings, lambda: long_ago) == 1
    ticket_service.create_ticket(engine, requester, "Today", "Low", datetime.now(UTC))
    stop = threading.Event()
    running = threading.Thread(target=webhook_worker.run, args=(engine, settings, stop))
    running.start()
    receiver.wait_for(2, 30)  # the worker delivered today's: its first pass has run
    stop.set()
    running.join(30)
    d = webhook_deliveries.c
    with engine.connect() as conn:
        left = [tuple(r) for r in conn.execute(select(d.ticket_id, d.state).order_by(d.id))]
    assert left == [(2, "delivered")]
