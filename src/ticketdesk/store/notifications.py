"""Notifications, written in the transaction of the change that causes them: store.tickets.save
calls `record` last, so a change that rolls back mails nobody and one that commits is in the
outbox even if the process dies right after (a worker delivers it: ticketdesk.mail.worker)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ticketdesk.config import DEFAULT_MAIL_ADDRESS, mail_config
from ticketdesk.domain import notifications as rule
from ticketdesk.domain.accounts import Account, Role
from ticketdesk.domain.mail import address_domain, new_message_id
from ticketdesk.domain.mail_text import render_notice, render_refusal
from ticketdesk.domain.notifications import NoticeKind, Person, UnassignedPolicy
from ticketdesk.domain.tickets import EventKind, NewEvent, Outcome, Status, Ticket
from ticketdesk.store import mail as mail_store
from ticketdesk.store.schema import accounts

UNASSIGNED_SETTING = "notify_unassigned"
"""desk_settings key: who hears of a requester's message on an unassigned ticket."""


def _may_notify(event: NewEvent) -> bool:
    """Whether an event can cause a notice at all (domain.notifications.decide says whom)."""
    if event.kind in (EventKind.CREATED, EventKind.REPLY, EventKind.MESSAGE):
        return True
    if event.kind is EventKind.ASSIGNEE:
        return event.new_value is not None
    return event.kind is EventKind.STATUS and event.new_value == Status.CLOSED.value


_STAFF_ROLES = (Role.AGENT.value, Role.ADMIN.value)


def _person(row: Any) -> Person:
    return Person(row.id, row.name, row.email, row.role in _STAFF_ROLES, bool(row.active))


_PERSON_COLUMNS = (
    accounts.c.id,
    accounts.c.name,
    accounts.c.email,
    accounts.c.role,
    accounts.c.active,
)


def _people(
    conn: Connection, *, ids: Iterable[int] = (), names: Iterable[str] = ()
) -> list[Person]:
    wanted_ids, wanted_names = sorted(set(ids)), sorted(set(names))
    found: list[Person] = []
    if wanted_ids:
        query = select(*_PERSON_COLUMNS).where(accounts.c.id.in_(wanted_ids))
        found += [_person(row) for row in conn.execute(query)]
    if wanted_names:
        query = select(*_PERSON_COLUMNS).where(accounts.c.name.in_(wanted_names))
        found += [_person(row) for row in conn.execute(query)]
    return found


def unassigned_policy(conn: Connection) -> UnassignedPolicy:
    stored = mail_store.get_setting(conn, UNASSIGNED_SETTING)
    try:
        return UnassignedPolicy(stored) if stored else UnassignedPolicy.NOBODY
    except ValueError:
        return UnassignedPolicy.NOBODY


def desk_address() -> str:
    """TICKETDESK_MAIL_ADDRESS; a malformed setting never stops a ticket from being saved
    (the worker and the Outbox page say what is wrong with it)."""
    try:
        return mail_config().address
    except ValueError:
        return DEFAULT_MAIL_ADDRESS


def base_url() -> str:
    try:
        return mail_config().base_url
    except ValueError:
        return "http://localhost:8501"


def record(
    conn: Connection,
    before: Ticket | None,
    after: Ticket,
    outcome: Outcome,
    actor: Account | None,
    now: datetime,
) -> int:
    """Queue the mails one saved change causes (domain.notifications.decide); returns how
    many. `after` is the ticket as stored (with its ID)."""
    if not any(_may_notify(event) for event in outcome.events):
        return 0  # most edits (priority, text, status but a close): no reads at all
    kinds = {event.kind for event in outcome.events}
    ids = [after.requester_id] if after.requester_id is not None else []
    names = [after.assignee] if after.assignee else []
    found = _people(conn, ids=ids, names=names)
    requester = next((p for p in found if p.id == after.requester_id), None)
    assignee = next((p for p in found if p.name == after.assignee), None)
    agents: list[Person] = []
    policy = UnassignedPolicy.NOBODY
    if EventKind.MESSAGE in kinds and assignee is None:
        policy = unassigned_policy(conn)
        if policy is UnassignedPolicy.ALL_AGENTS:
            query = select(*_PERSON_COLUMNS).where(
                accounts.c.role.in_(_STAFF_ROLES), accounts.c.active.is_(True)
            )
            agents = [_person(row) for row in conn.execute(query.order_by(accounts.c.name))]
    everyone = [p.id for p in (requester, assignee, *agents) if p is not None]
    notices = rule.decide(
        outcome.events,
        None if actor is None else actor.id,
        requester,
        assignee,
        agents,
        mail_store.optouts(conn, everyone),
        policy,
    )
    if not notices:
        return 0
    domain = address_domain(desk_address())
    link_base = base_url()
    body = outcome.message.body if outcome.message is not None else ""
    rows = []
    for notice in notices:
        text = render_notice(
            notice.kind,
            code=after.code,
            issue=after.issue,
            priority=after.priority.value,
            name=notice.to.name,
            actor=actor.name if actor is not None else "Someone",
            requester=after.requester or "someone",
            body=body,
            base_url=link_base,
        )
        rows.append(
            {
                "message_id": new_message_id(domain),
                "ticket_id": after.id,
                "kind": notice.kind.value,
                "recipient_id": notice.to.id,
                "recipient": notice.to.email,
                "recipient_name": notice.to.name,
                "subject": text.subject[:300],
                "body_text": text.text,
                "body_html": text.html,
                "in_reply_to": None,
            }
        )
    mail_store.queue(conn, rows, now)
    return len(rows)


def record_refusal(
    conn: Connection, recipient: str, original_message_id: str, subject: str, now: datetime
) -> None:
    """Queue the polite answer to a mail from an unknown address (never to machine-made
    mail: the caller checked)."""
    address = desk_address()
    text = render_refusal(subject, address)
    mail_store.queue(
        conn,
        [
            {
                "message_id": new_message_id(address_domain(address)),
                "ticket_id": None,
                "kind": NoticeKind.REFUSED.value,
                "recipient_id": None,
                "recipient": recipient,
                "recipient_name": None,
                "subject": text.subject[:300],
                "body_text": text.text,
                "body_html": text.html,
                "in_reply_to": original_message_id,
            }
        ],
        now,
    )
