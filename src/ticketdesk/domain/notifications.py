"""Who is told what after a change of a ticket: a pure rule from the change's events to the
notices it causes (store.notifications turns them into outbox rows in the same transaction).

- the requester: when their ticket is filed (its code and a link), on every public reply (its
  text), and when it is closed;
- the assignee: when a ticket is assigned to them, and when the requester writes on it; a
  requester's message on an unassigned ticket goes to every agent or to nobody, by the admin
  setting `notify_unassigned`;
- internal notes are never mailed to anyone (so never to a requester);
- nobody is told about their own change, except the requester, who gets the filing
  confirmation of the ticket they filed themselves (it carries the code and the link);
- each person can switch each kind off (their opt-outs); inactive accounts get nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ticketdesk.domain.tickets import EventKind, NewEvent, Status


class NoticeKind(StrEnum):
    FILED = "filed"
    REPLY = "reply"
    CLOSED = "closed"
    ASSIGNED = "assigned"
    REQUESTER_MESSAGE = "requester_message"
    REFUSED = "refused"  # the polite answer to an unknown sender (not a preference)


PREFERENCE_KINDS: tuple[NoticeKind, ...] = (
    NoticeKind.FILED,
    NoticeKind.REPLY,
    NoticeKind.CLOSED,
    NoticeKind.ASSIGNED,
    NoticeKind.REQUESTER_MESSAGE,
)
"""The kinds a person can switch off on "Your account", in the order shown there."""

REQUESTER_KINDS = frozenset({NoticeKind.FILED, NoticeKind.REPLY, NoticeKind.CLOSED})
STAFF_KINDS = frozenset({NoticeKind.ASSIGNED, NoticeKind.REQUESTER_MESSAGE})

DESCRIPTIONS: dict[NoticeKind, str] = {
    NoticeKind.FILED: "A ticket I filed was received (its code and a link)",
    NoticeKind.REPLY: "An agent replied on a ticket I filed",
    NoticeKind.CLOSED: "A ticket I filed was closed",
    NoticeKind.ASSIGNED: "A ticket was assigned to me",
    NoticeKind.REQUESTER_MESSAGE: "A requester wrote on a ticket assigned to me",
    NoticeKind.REFUSED: "Mail from an unknown address was refused",
}


class UnassignedPolicy(StrEnum):
    """Who hears of a requester's message on a ticket nobody is assigned to."""

    NOBODY = "nobody"
    ALL_AGENTS = "all_agents"


@dataclass(frozen=True)
class Person:
    """Someone who may be told: an account, as the rule needs it."""

    id: int
    name: str
    email: str
    is_staff: bool
    active: bool = True


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    to: Person


def decide(
    events: Sequence[NewEvent],
    actor_id: int | None,
    requester: Person | None,
    assignee: Person | None,
    agents: Sequence[Person],
    opted_out: Mapping[int, frozenset[NoticeKind]],
    unassigned: UnassignedPolicy = UnassignedPolicy.NOBODY,
) -> list[Notice]:
    """The notices one saved change causes, at most one per person and kind, in a fixed order.

    `events` are the change's events; `requester` and `assignee` the ticket's after the change
    (None: none, or no account); `agents` the active staff (read only when a requester's
    message on an unassigned ticket may go to them)."""
    wanted: list[Notice] = []

    def tell(kind: NoticeKind, person: Person | None, *, even_the_actor: bool = False) -> None:
        if person is None or not person.active or not person.email:
            return
        if person.id == actor_id and not even_the_actor:
            return
        if kind in opted_out.get(person.id, frozenset()):
            return
        notice = Notice(kind, person)
        if notice not in wanted:
            wanted.append(notice)

    for event in events:
        if event.kind is EventKind.CREATED:
            tell(NoticeKind.FILED, requester, even_the_actor=True)
        elif event.kind is EventKind.REPLY:
            tell(NoticeKind.REPLY, requester)
        elif event.kind is EventKind.STATUS and event.new_value == Status.CLOSED.value:
            tell(NoticeKind.CLOSED, requester)
        elif event.kind is EventKind.ASSIGNEE and event.new_value is not None:
            tell(NoticeKind.ASSIGNED, assignee)
        elif event.kind is EventKind.MESSAGE:
            if assignee is not None:
                tell(NoticeKind.REQUESTER_MESSAGE, assignee)
            elif unassigned is UnassignedPolicy.ALL_AGENTS:
                for agent in agents:
                    tell(NoticeKind.REQUESTER_MESSAGE, agent)
        # EventKind.NOTE: internal, never mailed; field edits other than these: no mail.
    return wanted


def kinds_for(is_staff: bool) -> tuple[NoticeKind, ...]:
    """The kinds a person of this role can receive (and so switch off): everyone files
    tickets; only staff are assigned them."""
    return tuple(k for k in PREFERENCE_KINDS if is_staff or k in REQUESTER_KINDS)
