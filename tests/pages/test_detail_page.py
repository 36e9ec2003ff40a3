"""The ticket page (?ticket=TICKET-n) run headless with AppTest on a real SQLite file, signed
in as an agent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from tests.support.apptest import open_app, person, session_of
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service

HOUR = timedelta(hours=1)


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


def caption_starting(at: AppTest, start: str) -> str:
    return next(c.value for c in at.caption if c.value.startswith(start))


def test_a_requester_sees_no_trace_of_internal_notes_in_the_caption(app_engine: Engine) -> None:
    """An internal note moves the ticket's last change and version; a requester's page shows
    the time of the latest change she may see and no version (the version is the Save form's,
    for staff)."""
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    t = ticket_service.create_ticket(app_engine, rita, "Printer jams", "Low", t0)  # version 1
    ticket_service.add_message(app_engine, al, t.id, "reply", "Which tray?", t0 + HOUR)  # 2
    ticket_service.add_message(app_engine, al, t.id, "note", "Tray 2 worn", t0 + 2 * HOUR)  # 3
    hers = open_app(session_of(app_engine, rita), ticket=t.code)
    assert not hers.exception
    # AppTest's browser has no time zone: times are shown in UTC.
    assert (
        caption_starting(hers, "Filed by")
        == "Filed by Rita on 2026-03-02 09:00 · last change 2026-03-02 10:00"
    )
    his = open_app(session_of(app_engine, al), ticket=t.code)
    assert (
        caption_starting(his, "Filed by")
        == "Filed by Rita on 2026-03-02 09:00 · last change 2026-03-02 11:00 · version 3"
    )


PHISHING_NAME = "Zed [verify your login](http://evil.example/phish)"


def live_markdown(text: str) -> list[str]:
    """What in `text` Streamlit's Markdown would make a link, an image or an icon of: link and
    HTML syntax not backslash-escaped, and what GFM links in the text itself, with escapes
    undone (a URL scheme, "www.", an email address), and icon or emoji shortcodes."""
    syntax = re.findall(r"[\[\]<]", re.sub(r"\\.", "", text))
    shown = re.sub(r"\\(.)", r"\1", text)
    bare = re.findall(r"[a-z]+://|www\.|\w@\w|:[a-z_]+[:/]", shown, flags=re.IGNORECASE)
    return syntax + bare


def test_names_are_shown_as_text_never_as_markdown_links(app_engine: Engine) -> None:
    zed, al = (
        person(app_engine, PHISHING_NAME, "requester", email="zed@example.com"),
        person(app_engine, "Al", "agent"),
    )
    now = datetime.now(UTC)
    t = ticket_service.create_ticket(app_engine, zed, "Cannot sign in", "High", now)
    ticket_service.add_message(app_engine, zed, t.id, "message", "Still broken", now)
    at = open_app(session_of(app_engine, al), ticket=t.code)
    assert not at.exception
    filed = caption_starting(at, "Filed by")
    author = next(c.value for c in at.caption if "Requester's message" in c.value)
    for shown in (filed, author):
        assert "verify your login" in shown
        assert live_markdown(shown) == [], shown
    # Her own page: the sidebar's "Signed in as" and the ticket's caption.
    hers = open_app(session_of(app_engine, zed), ticket=t.code)
    identity = next(m.value for m in hers.sidebar.markdown if m.value.startswith("Signed in as"))
    assert live_markdown(identity) == [], identity
    assert live_markdown(caption_starting(hers, "Filed by")) == []


def test_a_refusal_naming_someone_is_shown_as_text(app_engine: Engine) -> None:
    """Refusals quote what was typed or chosen: shown as text, never as Markdown."""
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    odd = person(app_engine, PHISHING_NAME, "agent", email="zed@example.com")
    t = ticket_service.create_ticket(app_engine, rita, "Laptop slow", "Medium", datetime.now(UTC))
    at = open_app(session_of(app_engine, al), ticket=t.code)
    at.selectbox(key="detail_assignee").select(PHISHING_NAME)
    account_service.set_active(app_engine, person(app_engine, "Root", "admin"), odd.id, False)
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    (error,) = at.error
    assert "is not an active agent" in error.value
    assert live_markdown(error.value) == [], error.value


def test_a_remote_image_in_a_message_is_not_loaded(app_engine: Engine) -> None:
    """A message's Markdown renders, except images: one from another host would make every
    agent's browser fetch it (and tell that host who read the ticket, and when)."""
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    now = datetime.now(UTC)
    t = ticket_service.create_ticket(app_engine, rita, "Screen flickers", "Low", now)
    body = (
        "See **this**: ![t](http://any.host/pixel.png) and ![ref][p]\n\n[p]: http://x.example/a.png"
    )
    ticket_service.add_message(app_engine, rita, t.id, "message", body, now)
    at = open_app(session_of(app_engine, al), ticket=t.code)
    assert not at.exception
    (shown,) = [m.value for m in at.markdown if "pixel.png" in m.value]
    assert "**this**" in shown  # the rest is Markdown still
    assert "![" not in shown, shown


def test_a_ticket_of_a_deactivated_agent_can_still_be_saved(app_engine: Engine) -> None:
    """Only what changed is sent: the assignee stays as it is, though no longer active."""
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    eli = person(app_engine, "Eli Haddad", "agent")
    t = ticket_service.create_ticket(app_engine, rita, "Docking station", "Low", datetime.now(UTC))
    ticket_service.update_ticket(
        app_engine, al, t.id, TicketChange(assignee="Eli Haddad"), datetime.now(UTC)
    )
    account_service.set_active(app_engine, person(app_engine, "Root", "admin"), eli.id, False)
    at = open_app(session_of(app_engine, al), ticket=t.code)
    assert at.selectbox(key="detail_assignee").value == "Eli Haddad"
    at.selectbox(key="detail_status").select("In Progress")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    assert not at.error
    assert at.success[0].value == "Saved."
    saved = ticket_service.ticket_detail(app_engine, al, t.code).ticket
    assert (saved.status, saved.assignee) == ("In Progress", "Eli Haddad")


def test_clicking_the_chosen_message_kind_again_keeps_it(app_engine: Engine) -> None:
    """A click on the kind already chosen would unselect it (the browser then sends None):
    the kind stays chosen, and Send sends it."""
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    t = ticket_service.create_ticket(app_engine, rita, "Phone dead", "Low", datetime.now(UTC))
    at = open_app(session_of(app_engine, al), ticket=t.code)
    kind = at.segmented_control(key="message_kind")
    assert kind.proto.required  # the browser does not let it be unselected
    kind.set_value(None)  # what an older browser tab, or a forged message, could still send
    at.text_area(key="message_body").input("We are on it")
    next(b for b in at.button if b.label == "Send").click().run()
    assert not at.exception
    assert not at.error
    assert at.success[0].value == "Public reply added."
    messages = ticket_service.ticket_detail(app_engine, al, t.code).messages
    assert [(m.kind.value, m.body) for m in messages] == [("reply", "We are on it")]
    assert at.segmented_control(key="message_kind").value == "reply"


def test_a_save_after_someone_else_changed_the_ticket_is_refused_and_keeps_their_change(
    app_engine: Engine,
) -> None:
    """Al opens the ticket; Bea closes it; Al, still looking at the Open ticket, raises its
    priority and saves: refused with a message naming what changed, Bea's close stays and
    Al's priority is not written (the page sends the version it was drawn from)."""
    rita, al = person(app_engine, "Rita", "requester"), person(app_engine, "Al", "agent")
    bea = person(app_engine, "Bea", "agent")
    filed = datetime.now(UTC) - 2 * HOUR
    t = ticket_service.create_ticket(app_engine, rita, "Printer on fire", "Low", filed)
    at = open_app(session_of(app_engine, al), ticket=t.code)
    ticket_service.update_ticket(app_engine, bea, t.id, TicketChange(status="Closed"), filed + HOUR)
    at.selectbox(key="detail_priority").select("High")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    # The message as people read it (Markdown escapes and word joiners taken out).
    shown = [re.sub(r"[\\\u2060]", "", e.value) for e in at.error]
    assert len(shown) == 1
    assert f"{t.code} was changed after you loaded it" in shown[0]
    assert "Bea changed the status from Open to Closed" in shown[0]
    assert "Your edit was not applied" in shown[0]
    [stored] = [x for x in ticket_service.list_tickets(app_engine, al) if x.id == t.id]
    assert (stored.status, stored.priority, stored.version) == ("Closed", "Low", 2)
