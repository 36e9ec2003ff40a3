"""The pages of mail, run headless with AppTest on a real SQLite file: the admins' Outbox page
(what would go out without TICKETDESK_SMTP_URL, failed mail and its retry, the rejected mail,
the mail settings), the notification switches of "Your account", and the original mail on a
ticket's page for staff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, update
from streamlit.testing.v1 import AppTest

from tests.support.apptest import open_app, person, session_of
from ticketdesk.config import mail_config
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.mail import InboundOutcome, MailOrigin
from ticketdesk.domain.notifications import NoticeKind, UnassignedPolicy
from ticketdesk.mail.intake import handle
from ticketdesk.services import notifications as notification_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import mail as mail_store
from ticketdesk.store.db import run_transaction
from ticketdesk.store.schema import mail_outbox

OUTBOX = "app_pages/outbox.py"
ACCOUNT = "app_pages/account.py"


def clock() -> datetime:
    return datetime.now(UTC)


def app(token: str, page: str | None = None, ticket: str | None = None) -> AppTest:
    at = open_app(token, page=page, ticket=ticket)
    assert not at.exception, at.exception
    return at


def frame_rows(at: AppTest) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for frame in at.dataframe:
        rows += [{str(k): v for k, v in row.items()} for row in frame.value.to_dict("records")]
    return rows


@pytest.fixture
def admin(app_engine: Engine) -> Account:
    return person(app_engine, "Ada Admin", "admin")


@pytest.fixture
def rita(app_engine: Engine) -> Account:
    return person(app_engine, "Rita Requester", "requester")


def test_without_smtp_the_outbox_page_shows_what_would_go_out(
    app_engine: Engine, admin: Account, rita: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKETDESK_SMTP_URL", raising=False)
    ticket = ticket_service.create_ticket(app_engine, rita, "Screen flickers", "Low", clock())
    at = app(session_of(app_engine, admin), OUTBOX)
    assert "Nothing is sent" in at.info[0].value
    (row,) = frame_rows(at)[:1]
    assert row["State"] == "Queued"
    assert row["To"] == rita.email
    assert row["Subject"] == f"Received: [{ticket.code}] Screen flickers"
    assert row["Ticket"] == ticket.code


def test_a_failed_mail_shows_the_servers_reason_and_is_retried(
    app_engine: Engine, admin: Account, rita: Account
) -> None:
    ticket_service.create_ticket(app_engine, rita, "Screen flickers", "Low", clock())
    with app_engine.begin() as conn:
        conn.execute(
            update(mail_outbox).values(state="failed", attempts=8, last_error="550 No such user")
        )
    at = app(session_of(app_engine, admin), OUTBOX)
    row = frame_rows(at)[0]
    assert (row["State"], row["Server's answer"], row["Tries"]) == ("Failed", "550 No such user", 8)
    (retry,) = [b for b in at.button if b.label.startswith("Retry the mail to")]
    retry.click().run()
    assert [s.value for s in at.success] == ["Queued again; it goes out in a moment."]
    with app_engine.connect() as conn:
        assert conn.execute(select(mail_outbox.c.state, mail_outbox.c.attempts)).one() == (
            "queued",
            0,
        )


def test_rejected_mail_is_listed_with_its_reason(app_engine: Engine, admin: Account) -> None:
    run_transaction(
        app_engine,
        lambda conn: mail_store.insert_inbound(
            conn,
            MailOrigin(
                message_id="<ooo@example.com>",
                channel="imap",
                sender="away@example.com",
                subject="Out of office",
                size=1200,
                raw=b"Subject: Out of office\r\n\r\nI am away.\r\n",
                received_at=clock(),
            ),
            InboundOutcome.IGNORED,
            "auto-submitted mail (Auto-Submitted: auto-replied)",
        ),
    )
    at = app(session_of(app_engine, admin), OUTBOX)
    rejected = [r for r in frame_rows(at) if "Reason" in r]
    assert rejected == [
        {
            "Received": rejected[0]["Received"],
            "Outcome": "Ignored",
            "From": "away@example.com",
            "Subject": "Out of office",
            "Reason": "auto-submitted mail (Auto-Submitted: auto-replied)",
            "Size (kB)": 1,
            "Via": "imap",
        }
    ]
    assert "I am away." in at.code[0].value


def test_the_mail_settings_are_saved(app_engine: Engine, admin: Account) -> None:
    at = app(session_of(app_engine, admin), OUTBOX)
    at.radio(key="mail_unknown").set_value(notification_service.UnknownSenders.REFUSE)
    at.radio(key="mail_unassigned").set_value(UnassignedPolicy.ALL_AGENTS)
    next(b for b in at.button if b.label == "Save mail settings").click().run()
    assert notification_service.mail_settings(app_engine) == notification_service.MailSettings(
        notification_service.UnknownSenders.REFUSE, UnassignedPolicy.ALL_AGENTS
    )


def test_an_agent_has_no_outbox_page(app_engine: Engine) -> None:
    agent = person(app_engine, "Ana Agent", "agent")
    at = app(session_of(app_engine, agent))
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(OUTBOX)


def test_a_requester_switches_a_notification_off(app_engine: Engine, rita: Account) -> None:
    at = app(session_of(app_engine, rita), ACCOUNT)
    assert [c.label for c in at.checkbox if (c.key or "").startswith("notify_")] == [
        "A ticket I filed was received (its code and a link)",
        "An agent replied on a ticket I filed",
        "A ticket I filed was closed",
    ]
    at.checkbox(key="notify_reply").uncheck()
    next(b for b in at.button if b.label == "Save mail settings").click().run()
    assert [s.value for s in at.success] == ["Saved: you get the mails ticked above."]
    assert notification_service.preferences(app_engine, rita) == {
        NoticeKind.FILED: True,
        NoticeKind.REPLY: False,
        NoticeKind.CLOSED: True,
    }
    assert at.checkbox(key="notify_reply").value is False


def test_staff_open_the_original_mail_on_the_ticket_page_requesters_do_not(
    app_engine: Engine, rita: Account
) -> None:
    agent = person(app_engine, "Ana Agent", "agent")
    raw = (
        b"From: Rita Requester <rita.requester@example.com>\r\nTo: support@desk.example\r\n"
        b"Subject: Mouse broken\r\nMessage-ID: <mouse-1@example.com>\r\n\r\nIt clicks twice.\r\n"
    )
    settings = mail_config({"TICKETDESK_MAIL_ADDRESS": "support@desk.example"})
    receipt = handle(app_engine, raw, channel="imap", config=settings, now=clock())
    code = f"TICKET-{receipt.ticket_id}"
    at = app(session_of(app_engine, agent), ticket=code)
    (expander,) = [e for e in at.expander if e.label.startswith("Original mail")]
    assert expander.label == "Original mail (1)"
    assert at.selectbox(key="original_mail").options == ["The ticket's text"]
    shown = at.code[0].value.replace("\r", "")
    assert shown == raw.decode().replace("\r", "").rstrip("\n")  # as received
    mine = app(session_of(app_engine, rita), ticket=code)
    assert not [e for e in mine.expander if e.label.startswith("Original mail")]
    assert "Message-ID: <mouse-1@example.com>" not in str(mine.code)
