"""The outbox worker against a real SMTP server on loopback (aiosmtpd): what goes out, with
which headers; refusals, a server that is down, retries; several workers at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from tests.support.smtp import SmtpServer, self_signed_certificate
from ticketdesk.config import MailConfig, mail_config
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.mail import MailState
from ticketdesk.mail.worker import OutboxWorker
from ticketdesk.services import outbox as outbox_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.schema import mail_outbox

DESK = "support@desk.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def config(smtp_url: str | None, **extra: str) -> MailConfig:
    env = {"TICKETDESK_MAIL_ADDRESS": DESK, "TICKETDESK_BASE_URL": "https://desk.example/"}
    if smtp_url:
        env["TICKETDESK_SMTP_URL"] = smtp_url
    return mail_config({**env, **extra})


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def states(engine: Engine) -> list[tuple[str, int, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(mail_outbox.c.state, mail_outbox.c.attempts, mail_outbox.c.last_error).order_by(
                mail_outbox.c.id
            )
        )
        return [tuple(r) for r in rows]


def test_a_notification_goes_out_with_its_threading_and_loop_headers(
    engine: Engine,
    smtp: SmtpServer,
    requester: Account,
    agent: Account,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TICKETDESK_MAIL_ADDRESS", DESK)
    monkeypatch.setenv("TICKETDESK_BASE_URL", "https://desk.example/")
    ticket = ticket_service.create_ticket(engine, requester, "VPN down <again>", "High", now)
    ticket_service.add_message(engine, agent, ticket.id, "reply", "Restart it & see", now)
    worker = OutboxWorker(engine, config(smtp.url), clock=Clock(now))
    assert worker.run_once() == 2
    assert [s for s, _, _ in states(engine)] == ["sent", "sent"]
    filed, reply = smtp.handler.messages()
    assert [r.recipients for r in smtp.received] == [[requester.email], [requester.email]]
    assert smtp.received[0].envelope_from == DESK
    with engine.connect() as conn:
        ids = list(conn.execute(select(mail_outbox.c.message_id).order_by(mail_outbox.c.id)))
    assert filed["Message-ID"] == ids[0][0] and reply["Message-ID"] == ids[1][0]
    assert filed["Message-ID"].endswith("@desk.example>")
    assert filed["In-Reply-To"] is None
    assert reply["In-Reply-To"] == filed["Message-ID"]
    assert reply["References"] == filed["Message-ID"]
    for mail in (filed, reply):
        assert mail["Auto-Submitted"] == "auto-generated"
        assert mail["Reply-To"] == DESK
        assert mail["From"] == f"Ticket desk <{DESK}>"
        assert mail["To"] == f"Rita Requester <{requester.email}>"
    assert filed["Subject"] == f"Received: [{ticket.code}] VPN down <again>"
    text = reply.get_body(("plain",))
    html = reply.get_body(("html",))
    assert text is not None and html is not None
    assert "Restart it & see" in text.get_content()
    assert "Restart it &amp; see" in html.get_content()
    assert f"https://desk.example/?ticket={ticket.code}" in text.get_content()


def test_without_an_smtp_url_the_outbox_fills_and_nothing_is_sent(
    engine: Engine, smtp: SmtpServer, requester: Account, now: datetime
) -> None:
    ticket_service.create_ticket(engine, requester, "Hello", "Low", now)
    assert OutboxWorker(engine, config(None), clock=Clock(now)).run_once() == 0
    assert states(engine) == [("queued", 0, None)]
    assert smtp.received == []


def test_a_permanent_refusal_fails_with_the_servers_reason_and_an_admin_can_retry(
    engine: Engine, smtp: SmtpServer, requester: Account, admin: Account, now: datetime
) -> None:
    ticket_service.create_ticket(engine, requester, "Hello", "Low", now)
    smtp.handler.refuse_with = "550 5.1.1 <rita> No such user here"
    worker = OutboxWorker(engine, config(smtp.url), clock=Clock(now))
    worker.run_once()
    assert states(engine) == [("failed", 1, "550 5.1.1 <rita> No such user here")]
    view = outbox_service.outbox(engine, admin)
    assert view.counts[MailState.FAILED] == 1
    outbox_service.retry(engine, admin, view.mails[0].row.id, now)
    smtp.handler.refuse_with = None
    worker.run_once()
    assert states(engine)[0][0] == "sent"
    assert len(smtp.received) == 1


def test_a_temporary_refusal_waits_for_the_back_off(
    engine: Engine, smtp: SmtpServer, requester: Account, now: datetime
) -> None:
    ticket_service.create_ticket(engine, requester, "Hello", "Low", now)
    smtp.handler.refuse_with = "451 4.3.0 Try again later"
    clock = Clock(now)
    worker = OutboxWorker(engine, config(smtp.url, TICKETDESK_MAIL_RETRY_SECONDS="30"), clock=clock)
    worker.run_once()
    worker.run_once()  # not due yet: nothing tried
    assert states(engine) == [("queued", 1, "451 4.3.0 Try again later")]
    smtp.handler.refuse_with = None
    clock.now = now + timedelta(seconds=29)
    assert worker.run_once() == 0
    clock.now = now + timedelta(seconds=30)  # the first back-off: 1 x 30 s
    assert worker.run_once() == 1
    assert states(engine) == [("sent", 2, None)]


def test_a_server_that_is_down_keeps_the_mails_until_it_is_back(
    engine: Engine, smtp: SmtpServer, requester: Account, now: datetime
) -> None:
    for n in range(3):
        ticket_service.create_ticket(engine, requester, f"Mail {n}", "Low", now)
    smtp.stop()
    clock = Clock(now)
    worker = OutboxWorker(engine, config(smtp.url, TICKETDESK_MAIL_RETRY_SECONDS="10"), clock=clock)
    worker.run_once()
    assert [s for s, _, _ in states(engine)] == ["queued"] * 3
    assert all("cannot reach smtp://127.0.0.1" in (e or "") for _, _, e in states(engine))
    clock.now = now + timedelta(seconds=10)
    worker.run_once()  # still down: the second back-off is 20 s
    clock.now = now + timedelta(seconds=29)
    assert worker.run_once() == 0
    smtp.start()
    clock.now = now + timedelta(seconds=30)
    assert worker.run_once() == 3
    assert [(s, a) for s, a, _ in states(engine)] == [("sent", 3)] * 3
    assert sorted(m["Subject"][-6:] for m in smtp.handler.messages()) == [
        "Mail 0",
        "Mail 1",
        "Mail 2",
    ]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_the_login_of_the_url_is_used(engine: Engine, requester: Account, now: datetime) -> None:
    server = SmtpServer(login=("desk@example.com", "s3cret:pass"))
    server.start()
    try:
        ticket_service.create_ticket(engine, requester, "Hello", "Low", now)
        wrong = f"smtp://desk%40example.com:nope@127.0.0.1:{server.port}"
        OutboxWorker(engine, config(wrong), clock=Clock(now)).run_once()
        state, _, error = states(engine)[0]
        assert state == "queued" and "refused the login: 535" in (error or "")
        assert "nope" not in (error or "")  # the password is never shown
        right = f"smtp://desk%40example.com:s3cret%3Apass@127.0.0.1:{server.port}"
        later = Clock(now + timedelta(hours=1))
        OutboxWorker(engine, config(right), clock=later).run_once()
        assert states(engine)[0][0] == "sent"
        assert len(server.received) == 1
    finally:
        server.stop()


def test_starttls_required_refuses_a_server_without_it(
    engine: Engine, smtp: SmtpServer, requester: Account, now: datetime
) -> None:
    ticket_service.create_ticket(engine, requester, "Hello", "Low", now)
    OutboxWorker(engine, config(smtp.url + "?starttls=required"), clock=Clock(now)).run_once()
    state, _, error = states(engine)[0]
    assert state == "queued"
    assert "does not offer STARTTLS" in (error or "")
    assert smtp.received == []


def test_several_workers_never_send_one_mail_twice(
    engine: Engine, smtp: SmtpServer, requester: Account, now: datetime
) -> None:
    count = 40
    for n in range(count):
        ticket_service.create_ticket(engine, requester, f"Mail {n}", "Low", now)
    workers = [OutboxWorker(engine, config(smtp.url), clock=Clock(now), batch=3) for _ in range(4)]

    def drain(worker: OutboxWorker) -> None:
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    ids = [m["Message-ID"] for m in smtp.handler.messages()]
    assert len(ids) == count
    assert len(set(ids)) == count
    assert {s for s, _, _ in states(engine)} == {"sent"}


def test_an_expired_claim_goes_back_to_the_queue(
    engine: Engine, smtp: SmtpServer, requester: Account, now: datetime
) -> None:
    """A worker on another machine died holding a claim: after its lease it is sent."""
    ticket_service.create_ticket(engine, requester, "Hello", "Low", now)
    with engine.begin() as conn:
        conn.execute(
            update(mail_outbox).values(
                state="sending",
                claimed_by="elsewhere:1:abc",
                lease_until=now + timedelta(minutes=5),
            )
        )
    clock = Clock(now)
    worker = OutboxWorker(engine, config(smtp.url), clock=clock)
    assert worker.run_once() == 0
    clock.now = now + timedelta(minutes=5, seconds=1)
    assert worker.run_once() == 1
    assert states(engine)[0][0] == "sent"


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_tls_starttls_when_offered_or_from_the_start(
    engine: Engine,
    requester: Account,
    now: datetime,
    tls: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """smtp:// uses STARTTLS when the server offers it (also with ?starttls=required),
    smtps:// TLS from the first byte; the server's certificate is checked (trusted here
    through SSL_CERT_FILE)."""
    certificate = self_signed_certificate(tmp_path)
    server = SmtpServer(tls=tls, certificate=certificate)
    server.start()
    try:
        ticket_service.create_ticket(engine, requester, "Hello", "Low", now)
        url = server.url + ("?starttls=required" if tls == "starttls" else "")
        worker = OutboxWorker(engine, config(url), clock=Clock(now))
        worker.run_once()  # not trusted yet: a verification failure, retried later
        state, _, error = states(engine)[0]
        assert state == "queued" and "CERTIFICATE_VERIFY_FAILED" in (error or "")
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        OutboxWorker(engine, config(url), clock=Clock(now + timedelta(hours=1))).run_once()
        assert states(engine)[0][0] == "sent"
        assert len(server.received) == 1
    finally:
        server.stop()
