"""The rules of a ticket's life (domain.tickets) and what one step adds to the derived tables
(store.projections.delta), without a database: expected values written out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketdesk.domain.files import NewAttachment
from ticketdesk.domain.sla import DEFAULT_TARGETS
from ticketdesk.domain.tickets import (
    EventKind,
    MessageKind,
    NewEvent,
    Priority,
    Status,
    TicketChange,
    add_message,
    change_ticket,
    file_ticket,
)
from ticketdesk.store.projections.delta import Delta, moves_deadlines

FILED = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
LATER = FILED + timedelta(hours=2)


def test_a_change_writes_every_changed_field_and_one_version() -> None:
    ticket = file_ticket("Printer jams", Priority.LOW, FILED, "Rita", 7).ticket
    change = TicketChange(
        status="In Progress", priority="High", issue="Printer jams daily", assignee="Ana"
    )
    outcome = change_ticket(ticket, change, LATER)
    after = outcome.ticket
    assert (after.status, after.priority, after.issue, after.assignee) == (
        Status.IN_PROGRESS,
        Priority.HIGH,
        "Printer jams daily",
        "Ana",
    )
    assert (after.version, after.updated_at, after.created_at) == (2, LATER, FILED)
    assert after.first_response_at == LATER  # leaving Open answers it
    assert after.closed_at is None
    assert outcome.events == (
        NewEvent(EventKind.STATUS, "Open", "In Progress"),
        NewEvent(EventKind.PRIORITY, "Low", "High"),
        NewEvent(EventKind.ISSUE, "Printer jams", "Printer jams daily"),
        NewEvent(EventKind.ASSIGNEE, None, "Ana"),
    )


def test_closing_sets_closed_at_and_reopening_clears_it_keeping_the_first_response() -> None:
    ticket = file_ticket("VPN", Priority.HIGH, FILED).ticket
    closed = change_ticket(ticket, TicketChange(status="Closed"), LATER).ticket
    assert (closed.first_response_at, closed.closed_at) == (LATER, LATER)
    reopened = change_ticket(closed, TicketChange(status="Open"), LATER + timedelta(hours=1))
    assert reopened.ticket.closed_at is None
    assert reopened.ticket.first_response_at == LATER  # the first answer stays the first
    back = LATER + timedelta(hours=2)
    again = change_ticket(reopened.ticket, TicketChange(status="In Progress"), back)
    assert again.ticket.first_response_at == LATER


def test_a_change_that_changes_nothing_records_nothing() -> None:
    ticket = file_ticket("VPN", Priority.HIGH, FILED).ticket
    outcome = change_ticket(ticket, TicketChange(status="Open", priority="High"), LATER)
    assert outcome.ticket is ticket
    assert not outcome.changed


def test_a_message_moves_the_version_once_and_only_a_reply_answers() -> None:
    ticket = file_ticket("VPN", Priority.HIGH, FILED).ticket
    files = (NewAttachment("ab" * 32, "log.txt", 12, "text/plain"),)
    note = add_message(ticket, MessageKind.NOTE, "checking", LATER, files)
    assert (note.ticket.version, note.ticket.updated_at) == (2, LATER)
    assert note.ticket.first_response_at is None
    assert note.attachments == files
    reply = add_message(note.ticket, MessageKind.REPLY, "fixed?", LATER + timedelta(hours=1))
    assert reply.ticket.version == 3
    assert reply.ticket.first_response_at == LATER + timedelta(hours=1)
    assert reply.events == (NewEvent(EventKind.REPLY),)


def test_a_step_that_changes_priority_answer_and_close_at_once_moves_the_deadlines() -> None:
    """Open -> Closed with a new priority: every deadline field changes in one step."""
    ticket = file_ticket("VPN", Priority.LOW, FILED).ticket
    after = change_ticket(ticket, TicketChange(status="Closed", priority="High"), LATER).ticket
    assert moves_deadlines(ticket, after)
    delta = Delta()
    delta.add_step(ticket, after, LATER, DEFAULT_TARGETS)
    # Gone: Low, neither met; came: High, answered and closed in 2 h (targets 4 h and 24 h).
    assert delta.deadlines == {
        ("Low", "2026-05-04 09"): [-1, 0, 0],
        ("High", "2026-05-04 09"): [1, 1, 1],
    }
    assert delta.tickets == {
        ("2026-05-04", "Open", "Low"): -1,
        ("2026-05-04", "Closed", "High"): 1,
    }


def test_deltas_add_up_when_merged() -> None:
    one, two = Delta(), Delta()
    for delta in (one, two):
        ticket = file_ticket("VPN", Priority.LOW, FILED).ticket
        delta.add_step(None, ticket, FILED, DEFAULT_TARGETS)
    one.merge(two)
    assert one.days["2026-05-04"]["created"] == 2
    assert one.tickets[("2026-05-04", "Open", "Low")] == 2
    assert one.deadlines[("Low", "2026-05-04 09")] == [2, 0, 0]
