"""The ticket page (?ticket=TICKET-n) run headless with AppTest on a real SQLite file, signed
in as an agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tests.support.apptest import open_app, person, session_of
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service


def test_the_ticket_page_shows_text_conversation_and_history(app_engine: Engine) -> None:
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    now = datetime.now(UTC)
    t = ticket_service.create_ticket(
        app_engine, rita, "Monitor <b>flickers</b>", "High", now - timedelta(hours=2)
    )
    ticket_service.add_message(app_engine, al, t.id, "note", "Cable?", now - timedelta(hours=1))
    ticket_service.update_ticket(app_engine, al, t.id, TicketChange(assignee="Al"), now)
    at = open_app(session_of(app_engine, al), ticket=t.code)
    assert not at.exception
    assert at.title[0].value == t.code
    assert "Monitor <b>flickers</b>" in [x.value for x in at.text]  # as text, never HTML
    assert any(c.value.startswith("Al · Internal note · ") for c in at.caption)
    history = [x.value for x in at.text if "  " in x.value]
    assert any("Al reassigned it from nobody to Al" in h for h in history)
    assert any("Rita filed it with priority High" in h for h in history)
    assert at.selectbox(key="detail_assignee").value == "Al"


def test_the_assignee_is_chosen_from_the_active_agents_and_admins(app_engine: Engine) -> None:
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    person(app_engine, "Bea", "admin")
    gone = person(app_engine, "Cy", "agent")
    account_service.set_active(app_engine, person(app_engine, "Root", "admin"), gone.id, False)
    t = ticket_service.create_ticket(app_engine, rita, "Laptop slow", "Medium", datetime.now(UTC))
    at = open_app(session_of(app_engine, al), ticket=t.code)
    assignee = at.selectbox(key="detail_assignee")
    # Active staff by name; no requester, no deactivated agent, no free text.
    assert assignee.options == ["Unassigned", "Al", "Bea", "Root"]
    assert assignee.value == "Unassigned"
    assignee.select("Bea")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    assert at.success[0].value == "Saved."
    assert ticket_service.ticket_detail(app_engine, al, t.code).ticket.assignee == "Bea"
    assert at.selectbox(key="detail_assignee").value == "Bea"
    history = [x.value for x in at.text if "  " in x.value]
    assert any("Al reassigned it from nobody to Bea" in h for h in history)


def test_a_reply_through_the_page_is_stored_and_shown(app_engine: Engine) -> None:
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    t = ticket_service.create_ticket(app_engine, rita, "Phone dead", "Low", datetime.now(UTC))
    at = open_app(session_of(app_engine, al), ticket=t.code)
    kind = at.segmented_control(key="message_kind")
    assert (kind.options, kind.value) == (["Public reply", "Internal note"], "reply")
    at.text_area(key="message_body").input("We are on it")
    next(b for b in at.button if b.label == "Send").click().run()
    assert not at.exception
    assert at.success[0].value == "Public reply added."
    messages = ticket_service.ticket_detail(app_engine, al, t.code).messages
    assert [(m.kind.value, m.body, m.author) for m in messages] == [("reply", "We are on it", "Al")]
    assert at.text_area(key="message_body").value == ""

    at.segmented_control(key="message_kind").set_value("note")
    at.text_area(key="message_body").input("Battery swollen?")
    next(b for b in at.button if b.label == "Send").click().run()
    assert not at.exception
    assert at.success[0].value == "Internal note added."
    messages = ticket_service.ticket_detail(app_engine, al, t.code).messages
    assert [(m.kind.value, m.body) for m in messages] == [
        ("reply", "We are on it"),
        ("note", "Battery swollen?"),
    ]
    assert any(c.value.startswith("Al · Internal note · ") for c in at.caption)


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
    app_engine: Engine, code: str, message: str
) -> None:
    at = open_app(session_of(app_engine, person(app_engine, "Al", "agent")), ticket=code)
    assert not at.exception
    assert message in at.error[0].value
