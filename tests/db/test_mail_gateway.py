"""`ticketdesk mail-gateway`: the SMTP and LMTP receiver, driven by smtplib over loopback as a
company's mail server forwarding the desk's mail would."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.support.server import free_port
from ticketdesk.config import mail_config
from ticketdesk.domain.accounts import Account
from ticketdesk.mail.gateway import GatewayController, start_gateway
from ticketdesk.services import files as file_service
from ticketdesk.services import outbox as outbox_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.schema import mail_inbox, tickets

CORPUS = Path(__file__).resolve().parents[1] / "mail"
DESK = "support@desk.example"


@pytest.fixture(params=["smtp", "lmtp"])
def gateway(request: pytest.FixtureRequest, engine: Engine) -> Iterator[GatewayController]:
    settings = mail_config({"TICKETDESK_MAIL_ADDRESS": DESK, "TICKETDESK_MAIL_MAX_BYTES": "20000"})
    controller = start_gateway(
        engine, settings, "127.0.0.1", free_port(), lmtp=request.param == "lmtp"
    )
    yield controller
    controller.stop()


def client(gateway: GatewayController) -> smtplib.SMTP:
    kind = smtplib.LMTP if gateway.lmtp else smtplib.SMTP
    return kind("127.0.0.1", gateway.port, timeout=30)


def test_a_forwarded_mail_becomes_a_ticket(
    engine: Engine, requester: Account, gateway: GatewayController
) -> None:
    raw = (CORPUS / "gmail_new.eml").read_bytes()
    with client(gateway) as smtp:
        refused = smtp.sendmail("rita.requester@example.com", [DESK], raw)
    assert refused == {}
    with engine.connect() as conn:
        issue = conn.execute(select(tickets.c.issue)).scalar_one()
        channel = conn.execute(select(mail_inbox.c.channel)).scalar_one()
    assert issue.startswith("The printer on floor 2 prints blank pages\n\nHello,")
    assert channel == ("lmtp" if gateway.lmtp else "smtp")


def test_only_the_desks_addresses_are_accepted(
    engine: Engine, requester: Account, gateway: GatewayController
) -> None:
    with client(gateway) as smtp:
        if not gateway.lmtp:
            smtp.ehlo()
        else:
            smtp.docmd("LHLO", "test")
        smtp.mail("rita.requester@example.com")
        code, text = smtp.rcpt("someone.else@desk.example")
        assert (code, text) == (
            550,
            b"5.1.1 <someone.else@desk.example>: not a mailbox of this desk",
        )
        assert smtp.rcpt("support+TICKET-1@desk.example")[0] == 250


def test_a_null_sender_bounce_is_ignored(
    engine: Engine, requester: Account, gateway: GatewayController
) -> None:
    raw = (
        b"From: Rita Requester <rita.requester@example.com>\r\nTo: support@desk.example\r\n"
        b"Subject: a notice\r\nMessage-ID: <notice-1@example.com>\r\n\r\nDelivery delayed.\r\n"
    )
    with client(gateway) as smtp:
        smtp.sendmail("<>", [DESK], raw)
    with engine.connect() as conn:
        assert conn.execute(select(tickets.c.id)).first() is None
        row = conn.execute(select(mail_inbox.c.outcome, mail_inbox.c.reason)).one()
    assert tuple(row) == ("ignored", "a bounce or notice (null sender <>)")


def test_a_mail_over_the_limit_is_refused_with_552_and_listed(
    engine: Engine, admin: Account, gateway: GatewayController
) -> None:
    raw = (
        b"From: Rita Requester <rita.requester@example.com>\r\nTo: support@desk.example\r\n"
        b"Subject: big\r\nMessage-ID: <big-1@example.com>\r\n\r\n" + b"y" * 998 + b"\r\n"
    ) + (b"z" * 998 + b"\r\n") * 30
    with client(gateway) as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("rita.requester@example.com", [DESK], raw)
    assert refused.value.smtp_code == 552
    assert b"Message too big for the desk" in refused.value.smtp_error
    (entry,) = outbox_service.received_mail(engine, admin, ("rejected",))
    assert entry.subject == "big" and entry.reason is not None
    assert entry.reason.startswith("too large")


def test_a_mails_files_are_attached_and_a_file_store_that_fails_asks_to_try_later(
    engine: Engine,
    requester: Account,
    agent: Account,
    gateway: GatewayController,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the file store cannot be written (here: its directory's place is taken by a
    file) the gateway answers 451 and stores nothing; the sending server's next try files
    the ticket with its file."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the file store's directory should be")
    monkeypatch.setenv("TICKETDESK_FILES_DIR", str(blocked / "files"))
    raw = (CORPUS / "attachment.eml").read_bytes()
    with client(gateway) as smtp, pytest.raises(smtplib.SMTPDataError) as later:
        smtp.sendmail("rita.requester@example.com", [DESK], raw)
    assert later.value.smtp_code == 451
    assert later.value.smtp_error == b"4.3.0 The desk cannot store files right now; try again later"
    with engine.connect() as conn:
        assert conn.execute(select(tickets.c.id)).first() is None
        assert conn.execute(select(mail_inbox.c.id)).first() is None

    monkeypatch.setenv("TICKETDESK_FILES_DIR", str(tmp_path / "files"))
    with client(gateway) as smtp:
        assert smtp.sendmail("rita.requester@example.com", [DESK], raw) == {}
    (file,) = ticket_service.ticket_detail(engine, agent, "TICKET-1").files_of(None)
    content = b"".join(file_service.open_file(engine, agent, file.id).chunks())
    assert (file.name, file.content_type, content) == (
        "error.png",
        "image/png",
        (CORPUS / "files" / "error.png").read_bytes(),
    )
