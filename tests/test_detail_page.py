"""The ticket page (?ticket=TICKET-n) run headless with AppTest on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ticketdesk import services
from ticketdesk.db import make_engine, migrate
from ticketdesk.domain import TicketChange

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "ticket.py")


@pytest.fixture
def sqlite_url(app_sqlite_url: str) -> str:
    migrate(make_engine(app_sqlite_url))
    return app_sqlite_url


def open_ticket(code: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["ticket"] = code
    return at.run()


def test_the_ticket_page_shows_text_conversation_and_history(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    now = datetime.now(UTC)
    t = services.create_ticket(
        engine, "Monitor <b>flickers</b>", "High", now - timedelta(hours=2), actor="Rita"
    )
    services.add_message(engine, t.id, "note", "Cable?", now - timedelta(hours=1), "Al")
    services.update_ticket(engine, t.id, TicketChange(assignee="Al"), now, actor="Al")
    at = open_ticket(t.code)
    assert not at.exception
    assert at.title[0].value == t.code
    assert "Monitor <b>flickers</b>" in [x.value for x in at.text]  # as text, never HTML
    assert any(c.value.startswith("Al · Internal note · ") for c in at.caption)
    history = [x.value for x in at.text if "  " in x.value]
    assert any("Al reassigned it from nobody to Al" in h for h in history)
    assert any("Rita filed it with priority High" in h for h in history)
    assert at.selectbox(key="detail_assignee").value == "Al"


def test_a_reply_through_the_page_is_stored_and_shown(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    t = services.create_ticket(engine, "Phone dead", "Low", datetime.now(UTC))
    at = open_ticket(t.code)
    at.text_area(key="message_body").input("We are on it")
    next(b for b in at.button if b.label == "Send").click().run()
    assert not at.exception
    messages = services.ticket_detail(engine, t.code).messages
    assert [(m.kind.value, m.body) for m in messages] == [("reply", "We are on it")]
    assert at.text_area(key="message_body").value == ""


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("TICKET-999", "TICKET-999 does not exist"),
        ("nonsense'--", "is not a ticket ID"),
        ("", "is not a ticket ID"),
        ("TICKET-1<script>", "is not a ticket ID"),
    ],
)
def test_a_missing_or_malformed_ticket_in_the_url_is_a_message(
    sqlite_url: str, code: str, message: str
) -> None:
    at = open_ticket(code)
    assert not at.exception
    assert message in at.error[0].value
