"""Ticket storage through the service layer, on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.errors import TicketNotFound, ValidationError
from ticketdesk.domain.tickets import Change, EventKind, Status, TicketChange
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.schema import ticket_events, tickets


def count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def make_agent(engine: Engine, name: str, now: datetime) -> Account:
    email = name.lower().replace(" ", ".") + "@example.com"
    return account_service.create_account(engine, None, email, name, "agent", None, now)


def test_new_ticket_is_open_with_an_id_from_the_database(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    first = ticket_service.create_ticket(engine, requester, "Printer on fire", "High", now)
    second = ticket_service.create_ticket(
        engine, requester, "VPN down", "Low", now + timedelta(minutes=1)
    )
    assert first.code == f"TICKET-{first.id}"
    assert second.id > first.id
    assert (first.status, first.priority, first.created_at) == (Status.OPEN, "High", now)
    assert (first.requester, first.requester_id) == ("Rita Requester", requester.id)
    history = ticket_service.ticket_history(engine, agent, first.id)
    assert history == [Change(now, EventKind.CREATED, None, "High", "Rita Requester")]


def test_ids_are_never_reused_after_a_delete(
    engine: Engine, now: datetime, requester: Account
) -> None:
    gone = ticket_service.create_ticket(engine, requester, "to delete", "Low", now)
    with engine.begin() as conn:
        conn.execute(tickets.delete().where(tickets.c.id == gone.id))
    assert ticket_service.create_ticket(engine, requester, "next", "Low", now).id == gone.id + 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 5001, "nul\x00"])
def test_refused_issue_stores_nothing(
    engine: Engine, now: datetime, requester: Account, text: str
) -> None:
    with pytest.raises(ValidationError):
        ticket_service.create_ticket(engine, requester, text, "High", now)
    assert count(engine, tickets) == 0
    assert count(engine, ticket_events) == 0


def test_html_and_sql_are_stored_exactly(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    text = "<script>alert(1)</script> '; DROP TABLE tickets; -- 🎫 עברית"
    created = ticket_service.create_ticket(engine, requester, text, "Medium", now)
    assert ticket_service.list_tickets(engine, agent)[0].issue == text
    assert created.issue == text


def test_list_is_newest_first(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    for minutes, text in [(0, "a"), (5, "b"), (2, "c")]:
        ticket_service.create_ticket(
            engine, requester, text, "Low", now + timedelta(minutes=minutes)
        )
    assert [t.issue for t in ticket_service.list_tickets(engine, agent)] == ["b", "c", "a"]


def test_an_edit_updates_one_ticket_and_records_each_field(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    target = ticket_service.create_ticket(engine, requester, "Disk full", "Low", now)
    other = ticket_service.create_ticket(engine, requester, "Mouse broken", "Low", now)
    later = now + timedelta(hours=3)
    updated = ticket_service.update_ticket(
        engine, agent, target.id, TicketChange(status="In Progress", priority="High"), later
    )
    assert (updated.status, updated.priority, updated.version) == ("In Progress", "High", 2)
    assert ticket_service.ticket_history(engine, agent, target.id)[1:] == [
        Change(later, EventKind.STATUS, "Open", "In Progress", "Ana Agent"),
        Change(later, EventKind.PRIORITY, "Low", "High", "Ana Agent"),
    ]
    untouched = {t.id: t for t in ticket_service.list_tickets(engine, agent)}[other.id]
    assert untouched == other


def test_an_unchanged_value_records_nothing(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    ticket = ticket_service.create_ticket(engine, requester, "Same", "Low", now)
    same = ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(status="Open"), now)
    assert same.version == 1
    assert count(engine, ticket_events) == 1


def test_first_response_and_closing_moments_follow_the_status(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    ticket = ticket_service.create_ticket(engine, requester, "Laptop", "Medium", now)
    t1, t2, t3, t4 = (now + timedelta(hours=h) for h in (1, 5, 6, 9))
    ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(status="In Progress"), t1)
    ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(status="Closed"), t2)
    ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(status="Open"), t3)
    with engine.connect() as conn:
        row = conn.execute(select(tickets).where(tickets.c.id == ticket.id)).one()
    assert (row.first_response_at, row.closed_at) == (t1, None)
    ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(status="Closed"), t4)
    with engine.connect() as conn:
        row = conn.execute(select(tickets).where(tickets.c.id == ticket.id)).one()
    assert (row.first_response_at, row.closed_at, row.version) == (t1, t4, 5)


def test_a_stale_edit_is_refused_and_says_what_changed(
    engine: Engine, now: datetime, requester: Account
) -> None:
    bo, cy = make_agent(engine, "Bo", now), make_agent(engine, "Cy", now)
    ticket = ticket_service.create_ticket(engine, requester, "Shared", "Low", now)
    ticket_service.update_ticket(engine, bo, ticket.id, TicketChange(priority="High"), now, 1)
    with pytest.raises(ticket_service.StaleTicket) as refused:
        ticket_service.update_ticket(engine, cy, ticket.id, TicketChange(status="Closed"), now, 1)
    assert "Bo changed the priority from Low to High at 12:00:00 UTC" in str(refused.value)
    assert "now reads: status Open, priority High" in str(refused.value)
    assert ticket_service.list_tickets(engine, cy)[0].status == "Open"
    assert count(engine, ticket_events) == 2


def test_bad_edits_are_refused(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    ticket = ticket_service.create_ticket(engine, requester, "Edit me", "Low", now)
    with pytest.raises(ValidationError, match="not a status"):
        ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(status="Done"), now)
    with pytest.raises(ValidationError, match="cannot be empty"):
        ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(issue="  "), now)
    with pytest.raises(TicketNotFound, match="TICKET-999 does not exist"):
        ticket_service.update_ticket(engine, agent, 999, TicketChange(status="Closed"), now)
    assert count(engine, ticket_events) == 1


def test_issue_edit_is_recorded_with_old_and_new_text(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    ticket = ticket_service.create_ticket(engine, requester, "Typo in teh title", "Low", now)
    ticket_service.update_ticket(
        engine, agent, ticket.id, TicketChange(issue="Typo in the title"), now
    )
    assert ticket_service.ticket_history(engine, agent, ticket.id)[-1] == Change(
        now, EventKind.ISSUE, "Typo in teh title", "Typo in the title", "Ana Agent"
    )
