"""Realistic demo tickets with event histories, and the demo accounts they belong to (loaded
in bulk by demo_load)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ticketdesk.domain import durations
from ticketdesk.domain.tickets import PRIORITY_RANK, STATUS_RANK, EventKind, Priority, Status

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
_STATUS_RANK = {s.value: rank for s, rank in STATUS_RANK.items()}
_PRIORITY_RANK = {p.value: rank for p, rank in PRIORITY_RANK.items()}
# Mean hours to first response and to resolution, by priority.
_RESPONSE_MEAN = {Priority.HIGH.value: 2.0, Priority.MEDIUM.value: 8.0, Priority.LOW.value: 20.0}
_RESOLUTION_MEAN = {
    Priority.HIGH.value: 20.0,
    Priority.MEDIUM.value: 60.0,
    Priority.LOW.value: 120.0,
}
_CREATED, _STATUS_CHANGE, _PRIORITY_CHANGE, _ASSIGNED = (
    k.value for k in (EventKind.CREATED, EventKind.STATUS, EventKind.PRIORITY, EventKind.ASSIGNEE)
)
DEFAULT_SPAN_DAYS = 180


@dataclass
class DemoTicket:
    row: dict[str, Any]
    # (when, kind (an EventKind value), old value, new value, who)
    events: list[tuple[datetime, str, str | None, str | None, str | None]] = field(
        default_factory=list
    )


def demo_ticket(rng: random.Random, created: datetime, now: datetime) -> DemoTicket:
    """One ticket filed at `created`, whose history never passes `now`."""
    priority = rng.choices(_PRIORITIES, cum_weights=_PRIORITY_CUM_WEIGHTS)[0]
    issue = rng.choice(ISSUES) + rng.choice(DETAILS)
    requester, agent = rng.choice(REQUESTERS), rng.choice(AGENTS)
    ticket = DemoTicket(
        row={
            "issue": issue,
            "priority": priority,
            "created_at": created,
            "version": 1,
            "requester": requester,
            "assignee": None,
        }
    )
    ticket.events.append((created, _CREATED, None, priority, requester))
    status, at = _OPEN, created
    first_response = closed = None

    def move(to: str, hours: float) -> bool:
        nonlocal status, at, first_response, closed
        when = at + timedelta(hours=hours)
        if when >= now:
            return False
        if ticket.row["assignee"] is None:  # whoever picks it up takes it
            ticket.row["assignee"] = agent
            ticket.events.append((when, _ASSIGNED, None, agent, agent))
        ticket.events.append((when, _STATUS_CHANGE, status, to, agent))
        if status == _OPEN and first_response is None:
            first_response = when
        closed = when if to == _CLOSED else None
        status, at = to, when
        return True

    if rng.random() < 0.1:  # the agent corrects the priority shortly after filing
        corrected = rng.choice([p for p in _PRIORITIES if p != priority])
        when = created + timedelta(minutes=rng.uniform(1, 30))
        if when < now:
            ticket.events.append((when, _PRIORITY_CHANGE, priority, corrected, agent))
            priority, at = corrected, when
    answered = move(_IN_PROGRESS, rng.expovariate(1 / _RESPONSE_MEAN[priority]))
    waiting = rng.random() < 0.07  # waits on the requester or a supplier, still in progress
    closed_once = (
        answered and not waiting and move(_CLOSED, rng.expovariate(1 / _RESOLUTION_MEAN[priority]))
    )
    if closed_once and rng.random() < 0.08 and move(_OPEN, rng.uniform(1, 48)):
        move(_CLOSED, rng.expovariate(1 / _RESOLUTION_MEAN[priority]))
    ticket.row.update(
        priority=priority,
        priority_rank=_PRIORITY_RANK[priority],
        status=status,
        status_rank=_STATUS_RANK[status],
        updated_at=at,
        version=len(ticket.events),
        first_response_at=first_response,
        closed_at=closed,
        **durations.duration_columns(ticket.row["created_at"], first_response, closed),
    )
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
