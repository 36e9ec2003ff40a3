"""Realistic demo tickets with event histories (made by the domain's own functions), and the
names of the demo people (loaded in bulk by services.demo)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ticketdesk.domain.tickets import (
    Outcome,
    Priority,
    Status,
    Ticket,
    TicketChange,
    change_ticket,
    file_ticket,
)

ISSUES = (
    "Network connectivity issues in the office",
    "Software application crashing on startup",
    "Printer not responding to print commands",
    "Email server downtime",
    "Data backup failure",
    "Login authentication problems",
    "Website performance degradation",
    "Security vulnerability identified",
    "Hardware malfunction in the server room",
    "Employee unable to access shared files",
    "Database connection failure",
    "Mobile application not syncing data",
    "VoIP phone system issues",
    "VPN connection problems for remote employees",
    "System updates causing compatibility issues",
    "File server running out of storage space",
    "Intrusion detection system alerts",
    "Inventory management system errors",
    "Customer data not loading in CRM",
    "Collaboration tool not sending notifications",
)
DETAILS = (
    "",
    " since this morning",
    " for the finance team",
    " on the third floor",
    " after yesterday's update",
    " for several users",
    " intermittently, about once an hour",
    " in the Berlin office",
)
AGENTS = ("Ana Lima", "Ben Okafor", "Chen Wei", "Dana Novak", "Eli Haddad")
REQUESTERS = (
    "Farah (Finance)",
    "Gus (Sales)",
    "Hana (HR)",
    "Ivo (Warehouse)",
    "Jo (Marketing)",
    "Kim (Legal)",
    "Lev (Engineering)",
    "Mia (Front desk)",
)
DEMO_ADMIN = AGENTS[0]


# Demo tickets are made a million at a time, so their values are plain strings (an enum's
# .value is a descriptor call, twelve per ticket) and their lookups are keyed by those.
_PRIORITIES = tuple(p.value for p in Priority)
_PRIORITY_CUM_WEIGHTS = (2, 7, 10)  # weights 2, 5, 3; what choices(weights=) would add up
_OPEN, _IN_PROGRESS, _CLOSED = Status.OPEN.value, Status.IN_PROGRESS.value, Status.CLOSED.value
# Mean hours to first response and to resolution, by priority.
_RESPONSE_MEAN = {Priority.HIGH.value: 2.0, Priority.MEDIUM.value: 8.0, Priority.LOW.value: 20.0}
_RESOLUTION_MEAN = {
    Priority.HIGH.value: 20.0,
    Priority.MEDIUM.value: 60.0,
    Priority.LOW.value: 120.0,
}
DEFAULT_SPAN_DAYS = 180


@dataclass
class DemoTicket:
    """A demo ticket's whole history as the steps the desk would have saved: (the ticket
    before, the domain's outcome, when, who made it)."""

    steps: list[tuple[Ticket | None, Outcome, datetime, str | None]] = field(default_factory=list)

    @property
    def final(self) -> Ticket:
        return self.steps[-1][1].ticket


def demo_ticket(
    rng: random.Random, created: datetime, now: datetime, people: Mapping[str, int] | None = None
) -> DemoTicket:
    """One ticket filed at `created`, whose history never passes `now`, made by the same
    domain functions as a real ticket's. `people` gives the account IDs of demo names."""
    priority = Priority(rng.choices(_PRIORITIES, cum_weights=_PRIORITY_CUM_WEIGHTS)[0])
    issue = rng.choice(ISSUES) + rng.choice(DETAILS)
    requester, agent = rng.choice(REQUESTERS), rng.choice(AGENTS)
    filed = file_ticket(issue, priority, created, requester, (people or {}).get(requester))
    ticket = DemoTicket([(None, filed, created, requester)])
    state, at = filed.ticket, created

    def step(change: TicketChange, when: datetime) -> None:
        nonlocal state
        outcome = change_ticket(state, change, when)
        ticket.steps.append((state, outcome, when, agent))
        state = outcome.ticket

    def move(to: str, hours: float) -> bool:
        nonlocal at
        when = at + timedelta(hours=hours)
        if when >= now:
            return False
        if state.assignee is None:  # whoever picks it up takes it
            step(TicketChange(assignee=agent), when)
        step(TicketChange(status=to), when)
        at = when
        return True

    if rng.random() < 0.1:  # the agent corrects the priority shortly after filing
        corrected = rng.choice([p for p in _PRIORITIES if p != priority])
        when = created + timedelta(minutes=rng.uniform(1, 30))
        if when < now:
            step(TicketChange(priority=corrected), when)
            at = when
    answered = move(_IN_PROGRESS, rng.expovariate(1 / _RESPONSE_MEAN[state.priority]))
    waiting = rng.random() < 0.07  # waits on the requester or a supplier, still in progress
    closed_once = (
        answered
        and not waiting
        and move(_CLOSED, rng.expovariate(1 / _RESOLUTION_MEAN[state.priority]))
    )
    if closed_once and rng.random() < 0.08 and move(_OPEN, rng.uniform(1, 48)):
        move(_CLOSED, rng.expovariate(1 / _RESOLUTION_MEAN[state.priority]))
    return ticket


def generate(
    rng: random.Random, count: int, now: datetime, span_days: int = DEFAULT_SPAN_DAYS
) -> Iterator[DemoTicket]:
    """`count` tickets filed over the last `span_days`, oldest first, so that IDs grow with
    the filing time as they do on a real desk."""
    step = span_days * 86400 / count
    start = now - timedelta(days=span_days)
    for i in range(count):
        yield demo_ticket(rng, start + timedelta(seconds=(i + rng.random()) * step), now)
