"""Realistic demo tickets with event histories, and the demo accounts they belong to (loaded
in bulk by demo_load)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from . import account_services, account_storage, counters
from .db import read
from .domain import PRIORITY_RANK, STATUS_RANK, EventKind, Priority, Status
from .identity import Account, Role

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


def demo_people() -> list[tuple[str, str, Role]]:
    """(name, email, role) of the demo accounts: the demo agents (the first one an admin)
    and requesters, so that demo tickets belong to people who can sign in."""
    people = [
        (name, name.lower().replace(" ", ".") + "@example.com", Role.AGENT) for name in AGENTS
    ]
    people[0] = (people[0][0], people[0][1], Role.ADMIN)
    people += [
        (name, name.split(" ")[0].lower() + "@example.com", Role.REQUESTER) for name in REQUESTERS
    ]
    return people


def demo_accounts_for_new_desk(engine: Engine, now: datetime) -> list[tuple[Account, str]]:
    """The demo accounts with their one-time passwords, made only on a desk that has no
    account yet (never beside real people); [] otherwise."""
    if read(engine, account_storage.any_account):
        return []
    return create_demo_accounts(engine, now)


def create_demo_accounts(engine: Engine, now: datetime) -> list[tuple[Account, str]]:
    """The demo accounts, each with a newly generated password (returned, to be shown once;
    only argon2 hashes are stored). Call on a desk without accounts."""
    made = []
    for name, email, role in demo_people():
        password = account_services.generate_password()
        made.append(
            (
                account_services.create_account(engine, None, email, name, role, password, now),
                password,
            )
        )
    return made


# Mean hours to first response and to resolution, by priority.
_RESPONSE_MEAN = {Priority.HIGH: 2.0, Priority.MEDIUM: 8.0, Priority.LOW: 20.0}
_RESOLUTION_MEAN = {Priority.HIGH: 20.0, Priority.MEDIUM: 60.0, Priority.LOW: 120.0}
_PRIORITIES = tuple(Priority)
_PRIORITY_CUM_WEIGHTS = (2, 7, 10)  # weights 2, 5, 3; what choices(weights=) would add up
DEFAULT_SPAN_DAYS = 180


@dataclass
class DemoTicket:
    row: dict[str, Any]
    # (when, kind, old value, new value, who)
    events: list[tuple[datetime, EventKind, str | None, str | None, str | None]] = field(
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
            "priority": priority.value,
            "created_at": created,
            "version": 1,
            "requester": requester,
            "assignee": None,
        }
    )
    ticket.events.append((created, EventKind.CREATED, None, priority.value, requester))
    status, at = Status.OPEN, created
    first_response = closed = None

    def move(to: Status, hours: float) -> bool:
        nonlocal status, at, first_response, closed
        when = at + timedelta(hours=hours)
        if when >= now:
            return False
        if ticket.row["assignee"] is None:  # whoever picks it up takes it
            ticket.row["assignee"] = agent
            ticket.events.append((when, EventKind.ASSIGNEE, None, agent, agent))
        ticket.events.append((when, EventKind.STATUS, status.value, to.value, agent))
        if status is Status.OPEN and first_response is None:
            first_response = when
        closed = when if to is Status.CLOSED else None
        status, at = to, when
        return True

    if rng.random() < 0.1:  # the agent corrects the priority shortly after filing
        corrected = rng.choice([p for p in Priority if p is not priority])
        when = created + timedelta(minutes=rng.uniform(1, 30))
        if when < now:
            ticket.events.append((when, EventKind.PRIORITY, priority.value, corrected.value, agent))
            priority, at = corrected, when
    answered = move(Status.IN_PROGRESS, rng.expovariate(1 / _RESPONSE_MEAN[priority]))
    waiting = rng.random() < 0.07  # waits on the requester or a supplier, still in progress
    closed_once = (
        answered
        and not waiting
        and move(Status.CLOSED, rng.expovariate(1 / _RESOLUTION_MEAN[priority]))
    )
    if closed_once and rng.random() < 0.08 and move(Status.OPEN, rng.uniform(1, 48)):
        move(Status.CLOSED, rng.expovariate(1 / _RESOLUTION_MEAN[priority]))
    ticket.row.update(
        priority=priority.value,
        priority_rank=PRIORITY_RANK[priority],
        status=status.value,
        status_rank=STATUS_RANK[status],
        updated_at=at,
        version=len(ticket.events),
        first_response_at=first_response,
        closed_at=closed,
        **counters.duration_columns(ticket.row["created_at"], first_response, closed),
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


def describe_accounts(made: list[tuple[Account, str]]) -> str:
    """The demo accounts and their passwords, to print once."""
    lines = [
        "Demo accounts (passwords are shown only now; only their hashes are stored):",
        *(f"  {a.role.value:<9}  {a.email:<28}  {password}" for a, password in made),
    ]
    return "\n".join(lines)
