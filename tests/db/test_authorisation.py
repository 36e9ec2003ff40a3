"""Who may do what: every role (requester, agent, admin, and an agent whose account was
deactivated) against every service, on real SQLite and PostgreSQL.

One table says, per action, what each role gets. An allowed action must succeed and have its
effect; a refused one must raise PermissionDenied and leave every table exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ticketdesk.domain.accounts import Account, PermissionDenied, Role
from ticketdesk.domain.errors import TicketNotFound
from ticketdesk.domain.sla import DEFAULT_TARGETS, SlaTarget
from ticketdesk.domain.tickets import (
    Change,
    EventKind,
    MessageKind,
    Priority,
    Status,
    Ticket,
    TicketChange,
)
from ticketdesk.queries.ticket_table import Sort, TicketFilter
from ticketdesk.services import accounts as account_service
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import accounts as account_store
from ticketdesk.store.db import run_transaction
from ticketdesk.store.schema import metadata

REQUESTER, AGENT, ADMIN, INACTIVE = "requester", "agent", "admin", "inactive-agent"
ROLES = (REQUESTER, AGENT, ADMIN, INACTIVE)

OTTO = "otto.requester@example.com"
NOTE_BODY = "Internal: the toner supplier is late again."
REPLY_BODY = "We are looking into it."


@dataclass(frozen=True)
class Desk:
    """Five accounts and six tickets, the same for every row of the table."""

    engine: Engine
    now: datetime
    people: dict[str, Account]  # by role label; "inactive-agent" has active=False
    other: Account  # a second requester, "Otto Requester"
    own: dict[str, Ticket]  # a ticket each person of `people` filed (while active)
    requester_second: Ticket  # the requester's second ticket
    others_ticket: Ticket  # filed by Otto
    noted: Ticket  # the requester's first ticket: a public reply and an internal note

    @property
    def admin(self) -> Account:
        return self.people[ADMIN]

    @property
    def all_ids_newest_first(self) -> list[int]:
        ids = [t.id for t in self.own.values()]
        return sorted({*ids, self.requester_second.id, self.others_ticket.id}, reverse=True)


@pytest.fixture
def desk(
    engine: Engine,
    now: datetime,
    admin: Account,
    agent: Account,
    requester: Account,
    other_requester: Account,
) -> Desk:
    earlier = now - timedelta(hours=6)
    inactive = account_service.create_account(
        engine, admin, "ivan.inactive@example.com", "Ivan Inactive", "agent", None, earlier
    )
    noted = ticket_service.create_ticket(
        engine, requester, "Printer jams on every page", "Medium", earlier
    )
    others = ticket_service.create_ticket(
        engine, other_requester, "VPN drops every hour", "Low", earlier + timedelta(minutes=10)
    )
    agents_own = ticket_service.create_ticket(
        engine, agent, "My laptop fan is loud", "Low", earlier + timedelta(minutes=20)
    )
    admins_own = ticket_service.create_ticket(
        engine, admin, "I need a second monitor", "Low", earlier + timedelta(minutes=30)
    )
    inactives_own = ticket_service.create_ticket(
        engine, inactive, "Badge stopped working", "High", earlier + timedelta(minutes=40)
    )
    second = ticket_service.create_ticket(
        engine, requester, "Monitor flickers", "Low", earlier + timedelta(minutes=50)
    )
    ticket_service.add_message(
        engine, agent, noted.id, "reply", REPLY_BODY, earlier + timedelta(hours=1)
    )
    noted = ticket_service.add_message(
        engine, agent, noted.id, "note", NOTE_BODY, earlier + timedelta(hours=2)
    )
    inactive = account_service.set_active(engine, admin, inactive.id, False)
    # A failed sign-in of Otto's, for the admin to clear (written as sign_in would, without
    # its argon2 check: this fixture runs for every row of the table).
    run_transaction(engine, lambda conn: account_store.record_failure(conn, OTTO, "x", earlier))
    assert noted.version == 3  # created, replied to, noted
    assert not inactive.active
    return Desk(
        engine=engine,
        now=now,
        people={REQUESTER: requester, AGENT: agent, ADMIN: admin, INACTIVE: inactive},
        other=other_requester,
        own={REQUESTER: noted, AGENT: agents_own, ADMIN: admins_own, INACTIVE: inactives_own},
        requester_second=second,
        others_ticket=others,
        noted=noted,
    )


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the desk."""
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }


# --- The actions: `call` is the one service call made as the person; `check` verifies its
# effect (reading as the admin where a second look is needed). ---------------------------------


@dataclass(frozen=True)
class Act:
    call: Callable[[Desk, Account, str], Any]
    check: Callable[[Desk, Account, str, Any], None]
    withheld: Callable[[Desk, Account, str, Any], None] | None = None


def _file_call(d: Desk, who: Account, role: str) -> Ticket:
    return ticket_service.create_ticket(d.engine, who, "Keyboard lost its Q key", "High", d.now)


def _file_check(d: Desk, who: Account, role: str, made: Ticket) -> None:
    assert (made.requester_id, made.requester) == (who.id, who.name)
    stored = ticket_service.ticket_detail(d.engine, d.admin, made.code).ticket
    assert stored == made
    assert (stored.status, stored.priority, stored.issue) == (
        Status.OPEN,
        Priority.HIGH,
        "Keyboard lost its Q key",
    )
    assert len(ticket_service.list_tickets(d.engine, d.admin)) == 7  # six of the desk, and this one


def _view_own_call(d: Desk, who: Account, role: str) -> ticket_service.TicketDetail:
    return ticket_service.ticket_detail(d.engine, who, d.own[role].code)


def _view_own_check(d: Desk, who: Account, role: str, seen: ticket_service.TicketDetail) -> None:
    assert seen.ticket.id == d.own[role].id
    assert seen.ticket.requester_id == who.id


def _view_others_call(d: Desk, who: Account, role: str) -> ticket_service.TicketDetail:
    return ticket_service.ticket_detail(d.engine, who, d.others_ticket.code)


def _view_others_check(d: Desk, who: Account, role: str, seen: ticket_service.TicketDetail) -> None:
    assert seen.ticket.id == d.others_ticket.id
    assert seen.ticket.issue == "VPN drops every hour"
    assert seen.ticket.requester == "Otto Requester"


def _expected_ids(d: Desk, role: str) -> list[int]:
    """What the person may see, newest first: a requester their two tickets, staff all six."""
    if role == REQUESTER:
        return [d.requester_second.id, d.noted.id]
    return d.all_ids_newest_first


def _list_call(d: Desk, who: Account, role: str) -> ticket_service.TicketPage:
    return ticket_service.ticket_page(d.engine, who, TicketFilter(), Sort())


def _list_check(d: Desk, who: Account, role: str, page: ticket_service.TicketPage) -> None:
    assert [t.id for t in page.tickets] == _expected_ids(d, role)
    assert page.matching == (2 if role == REQUESTER else 6)


def _edit_call(d: Desk, who: Account, role: str) -> Ticket:
    change = TicketChange(status="In Progress", priority="High", assignee="Ana Agent")
    return ticket_service.update_ticket(
        d.engine, who, d.noted.id, change, d.now, expected_version=3
    )


def _edit_check(d: Desk, who: Account, role: str, updated: Ticket) -> None:
    assert (updated.status, updated.priority, updated.assignee, updated.version) == (
        Status.IN_PROGRESS,
        Priority.HIGH,
        "Ana Agent",
        4,
    )
    history = ticket_service.ticket_history(d.engine, d.admin, d.noted.id)
    assert history[3:] == [
        Change(d.now, EventKind.STATUS, "Open", "In Progress", who.name),
        Change(d.now, EventKind.PRIORITY, "Medium", "High", who.name),
        Change(d.now, EventKind.ASSIGNEE, None, "Ana Agent", who.name),
    ]


def _reply_call(d: Desk, who: Account, role: str) -> Ticket:
    return ticket_service.add_message(
        d.engine, who, d.noted.id, "reply", "Try the other tray.", d.now
    )


def _reply_check(d: Desk, who: Account, role: str, after: Ticket) -> None:
    assert after.version == 4
    # A reply is public: the requester reads it.
    seen = ticket_service.ticket_detail(d.engine, d.people[REQUESTER], d.noted.code)
    last = seen.messages[-1]
    assert (last.kind, last.author, last.body) == (
        MessageKind.REPLY,
        who.name,
        "Try the other tray.",
    )


def _note_call(d: Desk, who: Account, role: str) -> Ticket:
    return ticket_service.add_message(d.engine, who, d.noted.id, "note", "Check the fuser.", d.now)


def _note_check(d: Desk, who: Account, role: str, after: Ticket) -> None:
    assert after.version == 4
    staff_view = ticket_service.ticket_detail(d.engine, d.admin, d.noted.code)
    last = staff_view.messages[-1]
    assert (last.kind, last.author, last.body) == (MessageKind.NOTE, who.name, "Check the fuser.")
    requester_view = ticket_service.ticket_detail(d.engine, d.people[REQUESTER], d.noted.code)
    assert "Check the fuser." not in [m.body for m in requester_view.messages]


def _message_own_call(d: Desk, who: Account, role: str) -> Ticket:
    return ticket_service.add_message(d.engine, who, d.own[role].id, "message", "Any news?", d.now)


def _message_own_check(d: Desk, who: Account, role: str, after: Ticket) -> None:
    assert after.version == d.own[role].version + 1
    last = ticket_service.ticket_detail(d.engine, d.admin, d.own[role].code).messages[-1]
    assert (last.kind, last.author, last.body) == (MessageKind.MESSAGE, who.name, "Any news?")


def _message_others_call(d: Desk, who: Account, role: str) -> Ticket:
    # A requester tries Otto's ticket; staff try to write *as the requester* on Rita's.
    target = d.others_ticket if role == REQUESTER else d.noted
    return ticket_service.add_message(
        d.engine, who, target.id, "message", "It's me, honest.", d.now
    )


def _message_others_check(d: Desk, who: Account, role: str, after: Ticket) -> None:
    raise AssertionError("nobody may write as the requester of someone else's ticket")


def _notes_call(d: Desk, who: Account, role: str) -> ticket_service.TicketDetail:
    return ticket_service.ticket_detail(d.engine, who, d.noted.code)


def _notes_check(d: Desk, who: Account, role: str, seen: ticket_service.TicketDetail) -> None:
    assert [(m.kind, m.body) for m in seen.messages] == [
        (MessageKind.REPLY, REPLY_BODY),
        (MessageKind.NOTE, NOTE_BODY),
    ]
    assert [c.kind for c in seen.history] == [EventKind.CREATED, EventKind.REPLY, EventKind.NOTE]


def _notes_withheld(d: Desk, who: Account, role: str, seen: ticket_service.TicketDetail) -> None:
    assert [(m.kind, m.body) for m in seen.messages] == [(MessageKind.REPLY, REPLY_BODY)]
    assert [c.kind for c in seen.history] == [EventKind.CREATED, EventKind.REPLY]
    assert seen.ticket.version == 3  # the ticket itself is shown as it is


def _dashboard_call(d: Desk, who: Account, role: str) -> dashboard_service.Dashboard:
    return dashboard_service.dashboard(d.engine, who, d.now)


def _dashboard_check(d: Desk, who: Account, role: str, board: dashboard_service.Dashboard) -> None:
    # Six tickets, all filed today (06:00 to 06:50 UTC) and all still Open.
    assert (board.open_now, board.created) == (6, 6)


def _export_call(d: Desk, who: Account, role: str) -> list[Ticket]:
    return list(ticket_service.export_tickets(d.engine, who, TicketFilter(), Sort()))


def _export_check(d: Desk, who: Account, role: str, rows: list[Ticket]) -> None:
    assert [t.id for t in rows] == _expected_ids(d, role)


NEW_TARGETS = {"High": (2, 12), "Medium": (6, 48), "Low": (24, 168)}


def _sla_call(d: Desk, who: Account, role: str) -> dict[Priority, SlaTarget]:
    return dashboard_service.save_sla_targets(d.engine, who, NEW_TARGETS)


def _sla_check(d: Desk, who: Account, role: str, saved: dict[Priority, SlaTarget]) -> None:
    stored = dashboard_service.sla_targets(d.engine)
    assert stored == {
        Priority.HIGH: SlaTarget(2, 12),
        Priority.MEDIUM: SlaTarget(6, 48),
        Priority.LOW: SlaTarget(24, 168),
    }
    assert stored != DEFAULT_TARGETS  # the defaults are 4/24 and 8/72 h: something changed


def _names_roles(d: Desk) -> dict[str, tuple[Role, bool]]:
    return {a.name: (a.role, a.active) for a in account_service.list_accounts(d.engine, d.admin)}


def _list_accounts_call(d: Desk, who: Account, role: str) -> list[Account]:
    return account_service.list_accounts(d.engine, who)


def _list_accounts_check(d: Desk, who: Account, role: str, found: list[Account]) -> None:
    assert [(a.name, a.role, a.active) for a in found] == [
        ("Ada Admin", Role.ADMIN, True),
        ("Ana Agent", Role.AGENT, True),
        ("Ivan Inactive", Role.AGENT, False),
        ("Otto Requester", Role.REQUESTER, True),
        ("Rita Requester", Role.REQUESTER, True),
    ]


def _create_account_call(d: Desk, who: Account, role: str) -> Account:
    return account_service.create_account(
        d.engine, who, "nora.new@example.com", "Nora New", "agent", None, d.now
    )


def _create_account_check(d: Desk, who: Account, role: str, made: Account) -> None:
    assert (made.email, made.name, made.role, made.active) == (
        "nora.new@example.com",
        "Nora New",
        Role.AGENT,
        True,
    )
    accounts = _names_roles(d)
    assert accounts["Nora New"] == (Role.AGENT, True)
    assert len(accounts) == 6


def _set_role_call(d: Desk, who: Account, role: str) -> Account:
    return account_service.set_role(d.engine, who, d.people[REQUESTER].id, "agent")


def _set_role_check(d: Desk, who: Account, role: str, changed: Account) -> None:
    assert changed.role is Role.AGENT
    assert _names_roles(d)["Rita Requester"] == (Role.AGENT, True)


def _set_active_call(d: Desk, who: Account, role: str) -> Account:
    return account_service.set_active(d.engine, who, d.other.id, False)


def _set_active_check(d: Desk, who: Account, role: str, changed: Account) -> None:
    assert not changed.active
    assert _names_roles(d)["Otto Requester"] == (Role.REQUESTER, False)


def _reset_call(d: Desk, who: Account, role: str) -> str:
    return account_service.reset_password(d.engine, who, d.other.id)


def _reset_check(d: Desk, who: Account, role: str, password: str) -> None:
    signed_in = account_service.sign_in(d.engine, OTTO, password, "192.0.2.1", d.now)
    assert signed_in.account.id == d.other.id


def _unlock_call(d: Desk, who: Account, role: str) -> int:
    return account_service.unlock_sign_in(d.engine, who, d.other.id)


def _unlock_check(d: Desk, who: Account, role: str, forgotten: int) -> None:
    assert forgotten == 1
    assert account_service.unlock_sign_in(d.engine, who, d.other.id) == 0


def _staff_call(d: Desk, who: Account, role: str) -> list[Account]:
    return account_service.staff(d.engine, who)


def _staff_check(d: Desk, who: Account, role: str, found: list[Account]) -> None:
    assert [a.name for a in found] == ["Ada Admin", "Ana Agent"]  # Ivan is inactive


def _history_call(d: Desk, who: Account, role: str) -> list[Change]:
    return ticket_service.ticket_history(d.engine, who, d.noted.id)


def _history_check(d: Desk, who: Account, role: str, history: list[Change]) -> None:
    assert [c.kind for c in history] == [EventKind.CREATED, EventKind.REPLY, EventKind.NOTE]


ACTIONS: dict[str, Act] = {
    "file-ticket": Act(_file_call, _file_check),
    "view-own-ticket": Act(_view_own_call, _view_own_check),
    "view-others-ticket": Act(_view_others_call, _view_others_check),
    "list-tickets": Act(_list_call, _list_check),
    "edit-ticket": Act(_edit_call, _edit_check),
    "reply": Act(_reply_call, _reply_check),
    "internal-note": Act(_note_call, _note_check),
    "message-own-ticket": Act(_message_own_call, _message_own_check),
    "message-others-ticket": Act(_message_others_call, _message_others_check),
    "read-internal-notes": Act(_notes_call, _notes_check, _notes_withheld),
    "dashboard": Act(_dashboard_call, _dashboard_check),
    "export": Act(_export_call, _export_check),
    "change-sla-targets": Act(_sla_call, _sla_check),
    "list-accounts": Act(_list_accounts_call, _list_accounts_check),
    "create-account": Act(_create_account_call, _create_account_check),
    "set-role": Act(_set_role_call, _set_role_check),
    "set-active": Act(_set_active_call, _set_active_check),
    "reset-password": Act(_reset_call, _reset_check),
    "unlock-sign-in": Act(_unlock_call, _unlock_check),
    "list-assignable-staff": Act(_staff_call, _staff_check),
    "ticket-history": Act(_history_call, _history_check),
}


class Outcome(Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    WITHHELD = "withheld"  # the call succeeds but leaves out what the person may not see


Y, N, W = Outcome.ALLOWED, Outcome.DENIED, Outcome.WITHHELD

# fmt: off
POLICY: dict[str, tuple[Outcome, Outcome, Outcome, Outcome]] = {
    #                         requester  agent  admin  inactive agent
    "file-ticket":            (Y,        Y,     Y,     N),
    "view-own-ticket":        (Y,        Y,     Y,     N),
    "view-others-ticket":     (N,        Y,     Y,     N),
    "list-tickets":           (Y,        Y,     Y,     N),  # a requester: only their own
    "edit-ticket":            (N,        Y,     Y,     N),
    "reply":                  (N,        Y,     Y,     N),
    "internal-note":          (N,        Y,     Y,     N),
    "message-own-ticket":     (Y,        Y,     Y,     N),
    "message-others-ticket":  (N,        N,     N,     N),
    "read-internal-notes":    (W,        Y,     Y,     N),
    "dashboard":              (N,        Y,     Y,     N),
    "export":                 (Y,        Y,     Y,     N),  # a requester: only their own
    "change-sla-targets":     (N,        N,     Y,     N),
    "list-accounts":          (N,        N,     Y,     N),
    "create-account":         (N,        N,     Y,     N),
    "set-role":               (N,        N,     Y,     N),
    "set-active":             (N,        N,     Y,     N),
    "reset-password":         (N,        N,     Y,     N),
    "unlock-sign-in":         (N,        N,     Y,     N),
    "list-assignable-staff":  (N,        Y,     Y,     N),
    "ticket-history":         (N,        Y,     Y,     N),
}
# fmt: on

CASES = [
    pytest.param(role, action, outcome, id=f"{role}-{action}-{outcome.value}")
    for action, outcomes in POLICY.items()
    for role, outcome in zip(ROLES, outcomes, strict=True)
]


def test_the_table_covers_every_action() -> None:
    assert set(POLICY) == set(ACTIONS)


@pytest.mark.parametrize(("role", "action", "outcome"), CASES)
def test_role_and_action(desk: Desk, role: str, action: str, outcome: Outcome) -> None:
    who, act = desk.people[role], ACTIONS[action]
    if outcome is Outcome.DENIED:
        before = snapshot(desk.engine)
        with pytest.raises(PermissionDenied):
            act.call(desk, who, role)
        assert snapshot(desk.engine) == before
        return
    result = act.call(desk, who, role)
    if outcome is Outcome.WITHHELD:
        assert act.withheld is not None
        act.withheld(desk, who, role, result)
    else:
        act.check(desk, who, role, result)


def test_a_requester_cannot_widen_the_filter_to_someone_elses_tickets(desk: Desk) -> None:
    rita = desk.people[REQUESTER]
    asking_for_otto = TicketFilter(requester_id=desk.other.id)
    page = ticket_service.ticket_page(desk.engine, rita, asking_for_otto, Sort())
    assert [t.id for t in page.tickets] == [desk.requester_second.id, desk.noted.id]
    exported = ticket_service.export_tickets(desk.engine, rita, asking_for_otto, Sort())
    assert [t.id for t in exported] == [desk.requester_second.id, desk.noted.id]
    assert [t.id for t in ticket_service.list_tickets(desk.engine, rita)] == [
        desk.requester_second.id,
        desk.noted.id,
    ]


def _refusal(call: Callable[[], object]) -> str:
    with pytest.raises(PermissionDenied) as refused:
        call()
    return str(refused.value)


@pytest.mark.parametrize("how", ["detail", "message"])
def test_a_missing_ticket_and_someone_elses_read_the_same_to_a_requester(
    desk: Desk, how: str
) -> None:
    rita, engine, now = desk.people[REQUESTER], desk.engine, desk.now
    missing = max(desk.all_ids_newest_first) + 1  # the next ticket's ID: not filed yet

    def attempt(ticket_id: int) -> Callable[[], object]:
        if how == "detail":
            return lambda: ticket_service.ticket_detail(engine, rita, f"TICKET-{ticket_id}")
        return lambda: ticket_service.add_message(engine, rita, ticket_id, "message", "hello", now)

    before = snapshot(engine)
    foreign = _refusal(attempt(desk.others_ticket.id))
    absent = _refusal(attempt(missing))
    assert foreign == absent
    assert str(desk.others_ticket.id) not in foreign
    assert snapshot(engine) == before


def test_staff_are_told_a_ticket_does_not_exist(desk: Desk) -> None:
    missing = max(desk.all_ids_newest_first) + 1
    with pytest.raises(TicketNotFound, match=f"TICKET-{missing} does not exist"):
        ticket_service.ticket_detail(desk.engine, desk.people[AGENT], f"TICKET-{missing}")
