"""Conversation and assignment: replies, internal notes, requesters' messages, assignees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.errors import TicketNotFound, ValidationError
from ticketdesk.domain.tickets import EventKind, TicketChange
from ticketdesk.queries.ticket_table import Sort, TicketFilter
from ticketdesk.services import accounts as account_service
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import tickets as ticket_service

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def make_agent(engine: Engine, name: str) -> Account:
    email = name.lower().replace(" ", ".") + "@example.com"
    return account_service.create_account(engine, None, email, name, "agent", None, T0)


def test_first_public_reply_is_the_first_response(
    engine: Engine, requester: Account, agent: Account
) -> None:
    t = ticket_service.create_ticket(engine, requester, "Laptop will not boot", "High", T0)
    ticket_service.add_message(engine, agent, t.id, "note", "Probably the disk", hours(1))
    ticket_service.add_message(engine, requester, t.id, "message", "Any news?", hours(2))
    assert ticket_service.ticket_detail(engine, agent, t.code).ticket.first_response_at is None
    ticket_service.add_message(engine, agent, t.id, "reply", "Looking at it now", hours(3))
    ticket_service.update_ticket(engine, agent, t.id, TicketChange(status="In Progress"), hours(4))
    detail = ticket_service.ticket_detail(engine, agent, t.code)
    # The reply (3 h) came before the status change (4 h): 3 h is the first response.
    assert detail.ticket.first_response_at == hours(3)
    data = dashboard_service.dashboard(engine, agent, hours(5), period_days=1)
    assert data.first_response.hours == pytest.approx(3.0, abs=1e-6)
    assert [m.kind.value for m in detail.messages] == ["note", "message", "reply"]
    assert [m.author for m in detail.messages] == ["Ana Agent", "Rita Requester", "Ana Agent"]
    assert detail.ticket.requester == "Rita Requester"


def test_status_change_before_any_reply_is_the_first_response(
    engine: Engine, requester: Account, agent: Account
) -> None:
    t = ticket_service.create_ticket(engine, requester, "VPN", "Low", T0)
    ticket_service.update_ticket(engine, agent, t.id, TicketChange(status="In Progress"), hours(2))
    ticket_service.add_message(engine, agent, t.id, "reply", "Fixed?", hours(5))
    assert ticket_service.ticket_detail(engine, agent, t.code).ticket.first_response_at == hours(2)


def test_internal_notes_are_hidden_from_a_requester_view(
    engine: Engine, requester: Account, agent: Account
) -> None:
    t = ticket_service.create_ticket(engine, requester, "Printer", "Low", T0)
    ticket_service.add_message(engine, agent, t.id, "note", "Rita broke it again", hours(1))
    ticket_service.add_message(engine, agent, t.id, "reply", "On my way", hours(2))
    outside = ticket_service.ticket_detail(engine, requester, t.code)
    assert [m.body for m in outside.messages] == ["On my way"]
    assert EventKind.NOTE not in {c.kind for c in outside.history}
    inside = ticket_service.ticket_detail(engine, agent, t.code)
    assert [m.internal for m in inside.messages] == [True, False]
    assert EventKind.NOTE in {c.kind for c in inside.history}


def test_messages_are_stored_exactly_and_validated(
    engine: Engine, requester: Account, agent: Account
) -> None:
    t = ticket_service.create_ticket(engine, requester, "X", "Low", T0)
    body = "<script>alert(1)</script>\n**bold** `code`"
    ticket_service.add_message(engine, agent, t.id, "reply", body, hours(1))
    assert ticket_service.ticket_detail(engine, agent, t.code).messages[0].body == body
    with pytest.raises(ValidationError, match="message is empty"):
        ticket_service.add_message(engine, agent, t.id, "reply", "   ", hours(1))
    with pytest.raises(ValidationError, match="not a kind of message"):
        ticket_service.add_message(engine, agent, t.id, "shout", "hi", hours(1))
    with pytest.raises(TicketNotFound):
        ticket_service.add_message(engine, agent, 999, "reply", "hi", hours(1))
    with pytest.raises(ValidationError, match="not a ticket ID"):
        ticket_service.ticket_detail(engine, agent, "TICKET-abc")
    with pytest.raises(TicketNotFound, match="TICKET-77 does not exist"):
        ticket_service.ticket_detail(engine, agent, "TICKET-77")


def test_assignment_is_recorded_and_filterable(engine: Engine, requester: Account) -> None:
    lead, al, zoe = (make_agent(engine, name) for name in ("Lead", "Al", "Zoe"))

    def assignees() -> list[str]:
        return sorted({t.assignee for t in ticket_service.list_tickets(engine, lead) if t.assignee})

    a = ticket_service.create_ticket(engine, requester, "one", "Low", T0)
    b = ticket_service.create_ticket(engine, requester, "two", "Low", T0)
    ticket_service.create_ticket(engine, requester, "three", "Low", T0)
    ticket_service.update_ticket(engine, lead, a.id, TicketChange(assignee="Zoe"), hours(1))
    ticket_service.update_ticket(engine, lead, b.id, TicketChange(assignee="Al"), hours(1))
    ticket_service.update_ticket(engine, al, b.id, TicketChange(assignee="Zoe"), hours(2))
    assert assignees() == ["Zoe"]
    ticket_service.update_ticket(engine, zoe, a.id, TicketChange(unassign=True), hours(3))
    history = ticket_service.ticket_detail(engine, lead, b.code).history
    assert [(c.old_value, c.new_value, c.actor) for c in history[1:]] == [
        (None, "Al", "Lead"),
        ("Al", "Zoe", "Al"),
    ]

    def shown(flt: TicketFilter) -> tuple[list[str], int]:
        page = ticket_service.ticket_page(engine, lead, flt, Sort())
        return [t.issue for t in page.tickets], page.matching

    assert shown(TicketFilter(assignee="Zoe")) == (["two"], 1)
    assert shown(TicketFilter(unassigned=True)) == (["three", "one"], 2)
    assert assignees() == ["Zoe"]
    ticket_service.update_ticket(engine, lead, a.id, TicketChange(assignee="Al"), hours(4))
    assert assignees() == ["Al", "Zoe"]
    # Only an active agent's (or admin's) name can be assigned: not free text, not a requester.
    for name in ("Somebody", requester.name):
        with pytest.raises(ValidationError, match="not an active agent"):
            ticket_service.update_ticket(engine, lead, a.id, TicketChange(assignee=name), hours(5))
    assert assignees() == ["Al", "Zoe"]


def test_two_agents_replying_at_once_never_conflict(
    engine: Engine, requester: Account, agent: Account
) -> None:
    al, zoe = make_agent(engine, "Al"), make_agent(engine, "Zoe")
    t = ticket_service.create_ticket(engine, requester, "Shared", "Low", T0)
    seen = t.version
    ticket_service.add_message(engine, al, t.id, "reply", "first", hours(1))
    ticket_service.add_message(engine, zoe, t.id, "reply", "second", hours(1))
    # An edit from the view loaded before both replies is still refused (it is stale) ...
    with pytest.raises(ticket_service.StaleTicket, match="Al replied"):
        ticket_service.update_ticket(
            engine, agent, t.id, TicketChange(status="Closed"), hours(2), seen
        )
    assert [m.body for m in ticket_service.ticket_detail(engine, agent, t.code).messages] == [
        "first",
        "second",
    ]


def test_sla_headline_follows_the_clock_that_matters(
    engine: Engine, requester: Account, agent: Account
) -> None:
    t = ticket_service.create_ticket(
        engine, requester, "Server room is hot", "High", T0
    )  # 4 h / 24 h
    page = ticket_service.ticket_page(engine, agent, TicketFilter(), Sort())
    targets = page.targets

    def headline(at: datetime) -> str:
        current = ticket_service.ticket_page(engine, agent, TicketFilter(), Sort()).tickets[0]
        return ticket_service.sla_headline(ticket_service.sla_of(current, targets, at))

    assert headline(hours(1)) == "Response 3 h left"
    assert headline(hours(6)) == "Response breached 2 h ago"
    ticket_service.add_message(engine, agent, t.id, "reply", "On it", hours(2))
    assert headline(hours(10)) == "Resolve 14 h left"
    ticket_service.update_ticket(engine, agent, t.id, TicketChange(status="Closed"), hours(30))
    assert headline(hours(40)) == "Resolved: missed by 6 h"


def test_a_requesters_view_does_not_show_when_an_internal_note_was_written(
    engine: Engine, requester: Account, agent: Account
) -> None:
    t = ticket_service.create_ticket(engine, requester, "Printer", "Low", T0)
    ticket_service.add_message(engine, agent, t.id, "reply", "Which tray?", hours(1))
    ticket_service.add_message(engine, agent, t.id, "note", "Tray 2 is worn", hours(2))
    assert ticket_service.ticket_detail(engine, requester, t.code).ticket.updated_at == hours(1)
    assert ticket_service.ticket_detail(engine, agent, t.code).ticket.updated_at == hours(2)


def test_an_unchanged_assignee_is_not_checked_again(
    engine: Engine, requester: Account, admin: Account
) -> None:
    """A ticket stays assigned to an agent who was deactivated since; changing its status
    (with the assignee sent as it is) works, while assigning that agent anew does not."""
    eli = make_agent(engine, "Eli Haddad")
    t = ticket_service.create_ticket(engine, requester, "Docking station", "Low", T0)
    other = ticket_service.create_ticket(engine, requester, "Headset", "Low", T0)
    ticket_service.update_ticket(engine, admin, t.id, TicketChange(assignee="Eli Haddad"), hours(1))
    account_service.set_active(engine, admin, eli.id, False)
    change = TicketChange(status="In Progress", assignee="Eli Haddad")
    saved = ticket_service.update_ticket(engine, admin, t.id, change, hours(2))
    assert (saved.status, saved.assignee) == ("In Progress", "Eli Haddad")
    history = ticket_service.ticket_detail(engine, admin, t.code).history
    assert [c.kind for c in history] == [EventKind.CREATED, EventKind.ASSIGNEE, EventKind.STATUS]
    with pytest.raises(ValidationError, match="'Eli Haddad' is not an active agent"):
        ticket_service.update_ticket(
            engine, admin, other.id, TicketChange(assignee="Eli Haddad"), hours(3)
        )
