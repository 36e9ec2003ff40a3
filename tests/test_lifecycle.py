"""Conversation and assignment: replies, internal notes, requesters' messages, assignees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from ticketdesk import reporting, services
from ticketdesk.domain import EventKind, TicketChange, TicketNotFound, ValidationError
from ticketdesk.listing import Sort, TicketFilter

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def test_first_public_reply_is_the_first_response(engine: Engine) -> None:
    t = services.create_ticket(engine, "Laptop will not boot", "High", T0, actor="Requester Rita")
    services.add_message(engine, t.id, "note", "Probably the disk", hours(1), "Agent Al")
    services.add_message(engine, t.id, "message", "Any news?", hours(2), "Requester Rita")
    assert services.ticket_detail(engine, t.code).ticket.first_response_at is None
    services.add_message(engine, t.id, "reply", "Looking at it now", hours(3), "Agent Al")
    services.update_ticket(engine, t.id, TicketChange(status="In Progress"), hours(4))
    detail = services.ticket_detail(engine, t.code)
    # The reply (3 h) came before the status change (4 h): 3 h is the first response.
    assert detail.ticket.first_response_at == hours(3)
    data = reporting.dashboard(engine, hours(5), period_days=1)
    assert data.first_response.hours == pytest.approx(3.0, abs=1e-6)
    assert [m.kind.value for m in detail.messages] == ["note", "message", "reply"]
    assert detail.ticket.requester == "Requester Rita"


def test_status_change_before_any_reply_is_the_first_response(engine: Engine) -> None:
    t = services.create_ticket(engine, "VPN", "Low", T0)
    services.update_ticket(engine, t.id, TicketChange(status="In Progress"), hours(2))
    services.add_message(engine, t.id, "reply", "Fixed?", hours(5), "Al")
    assert services.ticket_detail(engine, t.code).ticket.first_response_at == hours(2)


def test_internal_notes_are_hidden_from_a_requester_view(engine: Engine) -> None:
    t = services.create_ticket(engine, "Printer", "Low", T0, actor="Rita")
    services.add_message(engine, t.id, "note", "Rita broke it again", hours(1), "Al")
    services.add_message(engine, t.id, "reply", "On my way", hours(2), "Al")
    outside = services.ticket_detail(engine, t.code, include_notes=False)
    assert [m.body for m in outside.messages] == ["On my way"]
    assert EventKind.NOTE not in {c.kind for c in outside.history}
    inside = services.ticket_detail(engine, t.code)
    assert [m.internal for m in inside.messages] == [True, False]


def test_messages_are_stored_exactly_and_validated(engine: Engine) -> None:
    t = services.create_ticket(engine, "X", "Low", T0)
    body = "<script>alert(1)</script>\n**bold** `code`"
    services.add_message(engine, t.id, "reply", body, hours(1), "Al")
    assert services.ticket_detail(engine, t.code).messages[0].body == body
    with pytest.raises(ValidationError, match="message is empty"):
        services.add_message(engine, t.id, "reply", "   ", hours(1), "Al")
    with pytest.raises(ValidationError, match="not a kind of message"):
        services.add_message(engine, t.id, "shout", "hi", hours(1), "Al")
    with pytest.raises(TicketNotFound):
        services.add_message(engine, 999, "reply", "hi", hours(1), "Al")
    with pytest.raises(ValidationError, match="not a ticket ID"):
        services.ticket_detail(engine, "TICKET-abc")
    with pytest.raises(TicketNotFound, match="TICKET-77 does not exist"):
        services.ticket_detail(engine, "TICKET-77")


def test_assignment_is_recorded_and_filterable(engine: Engine) -> None:
    a = services.create_ticket(engine, "one", "Low", T0)
    b = services.create_ticket(engine, "two", "Low", T0)
    services.create_ticket(engine, "three", "Low", T0)
    services.update_ticket(engine, a.id, TicketChange(assignee="Zoe"), hours(1), actor="Lead")
    services.update_ticket(engine, b.id, TicketChange(assignee="Al"), hours(1), actor="Lead")
    services.update_ticket(engine, b.id, TicketChange(assignee="Zoe"), hours(2), actor="Al")
    assert services.known_assignees(engine) == ["Zoe"]
    services.update_ticket(engine, a.id, TicketChange(unassign=True), hours(3), actor="Zoe")
    history = services.ticket_detail(engine, b.code).history
    assert [(c.old_value, c.new_value, c.actor) for c in history[1:]] == [
        (None, "Al", "Lead"),
        ("Al", "Zoe", "Al"),
    ]

    def shown(flt: TicketFilter) -> tuple[list[str], int]:
        page = services.ticket_page(engine, flt, Sort())
        return [t.issue for t in page.tickets], page.matching

    assert shown(TicketFilter(assignee="Zoe")) == (["two"], 1)
    assert shown(TicketFilter(unassigned=True)) == (["three", "one"], 2)
    assert services.known_assignees(engine) == ["Zoe"]
    services.update_ticket(engine, a.id, TicketChange(assignee="Al"), hours(4))
    assert services.known_assignees(engine) == ["Al", "Zoe"]


def test_two_agents_replying_at_once_never_conflict(engine: Engine) -> None:
    t = services.create_ticket(engine, "Shared", "Low", T0)
    seen = t.version
    services.add_message(engine, t.id, "reply", "first", hours(1), "Al")
    services.add_message(engine, t.id, "reply", "second", hours(1), "Zoe")
    # An edit from the view loaded before both replies is still refused (it is stale) ...
    with pytest.raises(services.StaleTicket, match="Al replied"):
        services.update_ticket(engine, t.id, TicketChange(status="Closed"), hours(2), seen)
    assert [m.body for m in services.ticket_detail(engine, t.code).messages] == [
        "first",
        "second",
    ]


def test_sla_headline_follows_the_clock_that_matters(engine: Engine) -> None:
    t = services.create_ticket(engine, "Server room is hot", "High", T0)  # 4 h / 24 h
    page = services.ticket_page(engine, TicketFilter(), Sort())
    targets = page.targets

    def headline(at: datetime) -> str:
        current = services.ticket_page(engine, TicketFilter(), Sort()).tickets[0]
        return services.sla_headline(services.sla_of(current, targets, at))

    assert headline(hours(1)) == "Response 3 h left"
    assert headline(hours(6)) == "Response breached 2 h ago"
    services.add_message(engine, t.id, "reply", "On it", hours(2), "Al")
    assert headline(hours(10)) == "Resolve 14 h left"
    services.update_ticket(engine, t.id, TicketChange(status="Closed"), hours(30))
    assert headline(hours(40)) == "Resolved: missed by 6 h"
