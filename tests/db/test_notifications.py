"""Notifications: who is told of what (the pure rule), and that each saved change writes its
mails into the outbox in its own transaction (and a change that rolls back, none)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.notifications import (
    NoticeKind,
    Person,
    UnassignedPolicy,
    decide,
)
from ticketdesk.domain.tickets import EventKind, MessageKind, NewEvent, TicketChange
from ticketdesk.domain.tickets import add_message as message_rule
from ticketdesk.services import notifications as notification_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.db import run_transaction
from ticketdesk.store.schema import mail_outbox

RITA = Person(1, "Rita", "rita@example.com", is_staff=False)
ANA = Person(2, "Ana", "ana@example.com", is_staff=True)
BEN = Person(3, "Ben", "ben@example.com", is_staff=True)


def kinds_to(notices: list, person: Person) -> list[NoticeKind]:  # type: ignore[type-arg]
    return [n.kind for n in notices if n.to == person]


# -- the rule ------------------------------------------------------------------------------


def test_the_requester_hears_of_filing_even_as_the_one_who_filed() -> None:
    notices = decide([NewEvent(EventKind.CREATED)], RITA.id, RITA, None, [], {})
    assert [(n.kind, n.to) for n in notices] == [(NoticeKind.FILED, RITA)]


def test_a_public_reply_goes_to_the_requester_and_a_note_to_nobody() -> None:
    assert kinds_to(decide([NewEvent(EventKind.REPLY)], ANA.id, RITA, ANA, [], {}), RITA) == [
        NoticeKind.REPLY
    ]
    assert decide([NewEvent(EventKind.NOTE)], ANA.id, RITA, ANA, [BEN], {}) == []


def test_closing_tells_the_requester_other_status_changes_do_not() -> None:
    closed = NewEvent(EventKind.STATUS, "Open", "Closed")
    assert kinds_to(decide([closed], ANA.id, RITA, ANA, [], {}), RITA) == [NoticeKind.CLOSED]
    moved = NewEvent(EventKind.STATUS, "Open", "In Progress")
    assert decide([moved], ANA.id, RITA, ANA, [], {}) == []


def test_the_new_assignee_hears_of_it_unless_they_assigned_themselves() -> None:
    assigned = NewEvent(EventKind.ASSIGNEE, None, "Ana")
    assert kinds_to(decide([assigned], BEN.id, RITA, ANA, [], {}), ANA) == [NoticeKind.ASSIGNED]
    assert decide([assigned], ANA.id, RITA, ANA, [], {}) == []
    unassigned = NewEvent(EventKind.ASSIGNEE, "Ana", None)
    assert decide([unassigned], BEN.id, RITA, None, [], {}) == []


def test_a_requester_message_goes_to_the_assignee_or_by_the_setting() -> None:
    message = [NewEvent(EventKind.MESSAGE)]
    assert kinds_to(decide(message, RITA.id, RITA, ANA, [], {}), ANA) == [
        NoticeKind.REQUESTER_MESSAGE
    ]
    assert decide(message, RITA.id, RITA, None, [ANA, BEN], {}) == []
    everyone = decide(message, RITA.id, RITA, None, [ANA, BEN], {}, UnassignedPolicy.ALL_AGENTS)
    assert [(n.kind, n.to) for n in everyone] == [
        (NoticeKind.REQUESTER_MESSAGE, ANA),
        (NoticeKind.REQUESTER_MESSAGE, BEN),
    ]


def test_opted_out_and_inactive_people_get_nothing() -> None:
    reply = [NewEvent(EventKind.REPLY)]
    assert decide(reply, ANA.id, RITA, ANA, [], {RITA.id: frozenset({NoticeKind.REPLY})}) == []
    gone = Person(1, "Rita", "rita@example.com", is_staff=False, active=False)
    assert decide(reply, ANA.id, gone, ANA, [], {}) == []


# -- the outbox, in the change's transaction ------------------------------------------------


def outbox(engine: Engine) -> list[tuple[str, str, str]]:
    """(kind, recipient, subject) of every queued mail, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(mail_outbox.c.kind, mail_outbox.c.recipient, mail_outbox.c.subject)
            .where(mail_outbox.c.state == "queued")
            .order_by(mail_outbox.c.id)
        )
        return [tuple(row) for row in rows]


def bodies(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(mail_outbox.c.body_text, mail_outbox.c.body_html).order_by(mail_outbox.c.id)
        )
        return [tuple(row) for row in rows]


def test_each_change_queues_its_mails(
    engine: Engine, requester: Account, agent: Account, admin: Account, now: datetime
) -> None:
    ticket = ticket_service.create_ticket(engine, requester, "Printer on fire\nhelp", "High", now)
    code = ticket.code
    assert outbox(engine) == [
        ("filed", "rita.requester@example.com", f"Received: [{code}] Printer on fire")
    ]
    ticket_service.update_ticket(engine, admin, ticket.id, TicketChange(assignee=agent.name), now)
    ticket_service.add_message(engine, agent, ticket.id, "note", "internal only", now)
    ticket_service.add_message(engine, agent, ticket.id, "reply", "Try <b>water</b>", now)
    ticket_service.add_message(engine, requester, ticket.id, "message", "It worked", now)
    ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(priority="Low"), now)
    ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(status="Closed"), now)
    assert outbox(engine)[1:] == [
        ("assigned", "ana.agent@example.com", f"Assigned to you: [{code}] Printer on fire"),
        ("reply", "rita.requester@example.com", f"Re: [{code}] Printer on fire"),
        ("requester_message", "ana.agent@example.com", f"Re: [{code}] Printer on fire"),
        ("closed", "rita.requester@example.com", f"Closed: [{code}] Printer on fire"),
    ]
    reply_text, reply_html = bodies(engine)[2]
    assert "Try <b>water</b>" in reply_text  # the text part as typed
    assert "Try &lt;b&gt;water&lt;/b&gt;" in reply_html  # the HTML part escaped
    assert f"http://localhost:8501/?ticket={code}" in reply_text


def test_a_change_that_rolls_back_queues_nothing(
    engine: Engine, requester: Account, agent: Account, now: datetime
) -> None:
    ticket = ticket_service.create_ticket(engine, requester, "Broken", "Low", now)
    before = len(outbox(engine))

    def reply_then_fail(conn):  # type: ignore[no-untyped-def]
        current = ticket_store.get_ticket(conn, ticket.id, for_update=True)
        assert current is not None
        later = now + timedelta(minutes=1)
        outcome = message_rule(current, MessageKind.REPLY, "hello", later)
        ticket_store.save(conn, current, outcome, agent, later)
        assert len(outbox_in(conn)) == before + 1  # written, inside the transaction
        raise RuntimeError("the rest of the change failed")

    with pytest.raises(RuntimeError):
        run_transaction(engine, reply_then_fail)
    assert len(outbox(engine)) == before


def outbox_in(conn) -> list[int]:  # type: ignore[no-untyped-def]
    return list(conn.execute(select(mail_outbox.c.id)).scalars())


def test_preferences_switch_a_kind_off(
    engine: Engine, requester: Account, agent: Account, now: datetime
) -> None:
    assert notification_service.preferences(engine, requester) == {
        NoticeKind.FILED: True,
        NoticeKind.REPLY: True,
        NoticeKind.CLOSED: True,
    }
    notification_service.set_preferences(engine, requester, {NoticeKind.FILED: False})
    ticket = ticket_service.create_ticket(engine, requester, "Quiet please", "Low", now)
    ticket_service.add_message(engine, agent, ticket.id, "reply", "Noted", now)
    assert [kind for kind, _, _ in outbox(engine)] == ["reply"]
    assert notification_service.preferences(engine, requester)[NoticeKind.FILED] is False


def test_unassigned_messages_follow_the_admin_setting(
    engine: Engine, requester: Account, agent: Account, admin: Account, now: datetime
) -> None:
    ticket = ticket_service.create_ticket(engine, requester, "Nobody's", "Low", now)
    ticket_service.add_message(engine, requester, ticket.id, "message", "Anyone?", now)
    assert [k for k, _, _ in outbox(engine)] == ["filed"]
    settings = notification_service.mail_settings(engine)
    notification_service.save_mail_settings(
        engine,
        admin,
        notification_service.MailSettings(settings.unknown_senders, UnassignedPolicy.ALL_AGENTS),
    )
    ticket_service.add_message(engine, requester, ticket.id, "message", "Hello?", now)
    assert sorted(r for k, r, _ in outbox(engine) if k == "requester_message") == [
        "ada.admin@example.com",
        "ana.agent@example.com",
    ]
