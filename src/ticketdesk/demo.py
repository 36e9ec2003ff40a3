"""Realistic demo tickets with event histories, inserted in bulk."""

from __future__ import annotations

import functools
import multiprocessing
import random
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from . import account_services, account_storage, counters, deadline_counts, sla, storage
from .db import read, run_transaction
from .domain import PRIORITY_RANK, STATUS_RANK, EventKind, Priority, Status
from .identity import Account, Role
from .sla import Targets

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
DEFAULT_SPAN_DAYS = 180
BATCH = 5000


@dataclass
class DemoTicket:
    row: dict[str, Any]
    # (when, kind, old value, new value, who)
    events: list[tuple[datetime, EventKind, str | None, str | None, str | None]] = field(
        default_factory=list
    )


def demo_ticket(rng: random.Random, created: datetime, now: datetime) -> DemoTicket:
    """One ticket filed at `created`, whose history never passes `now`."""
    priority = rng.choices(list(Priority), weights=(2, 5, 3))[0]
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


@dataclass(frozen=True)
class _Job:
    """One batch to prepare: tickets first .. first+size-1 of `count`."""

    seed: str
    first: int
    size: int
    count: int
    now: datetime
    span_days: int
    dialect: str
    people: dict[str, int]  # demo names that have an account: name -> account id
    targets: Targets


@dataclass
class _Prepared:
    rows: storage.BulkRows
    counts: dict[tuple[str, str, str], int]
    assignees: dict[tuple[str | None, str], int]
    days: dict[str, dict[str, float]]
    durations: dict[tuple[str, str, int], int]
    deadlines: list[deadline_counts.Standing]


def _prepare(job: _Job) -> _Prepared:
    """Generate one batch and turn it into insert-ready values and counter amounts. Pure
    Python, so a worker process can do it while the database takes the previous batch."""
    rng = random.Random(f"{job.seed}:{job.first}")
    step = job.span_days * 86400 / job.count
    start = job.now - timedelta(days=job.span_days)
    batch = [
        demo_ticket(rng, start + timedelta(seconds=(i + rng.random()) * step), job.now)
        for i in range(job.first, job.first + job.size)
    ]
    events = [
        (
            index,
            {
                "occurred_at": at,
                "kind": kind.value,
                "old_value": old,
                "new_value": new,
                "actor": who,
                "actor_id": job.people.get(who) if who else None,
                "version": version,  # each demo change is a version of its own
            },
        )
        for index, ticket in enumerate(batch)
        for version, (at, kind, old, new, who) in enumerate(ticket.events, start=1)
    ]
    counts: Counter[tuple[str, str, str]] = Counter()
    assignees: Counter[tuple[str | None, str]] = Counter()
    durations: Counter[tuple[str, str, int]] = Counter()
    days: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for ticket in batch:
        row = ticket.row
        created = row["created_at"]
        counts[(counters.day_key(created), row["status"], row["priority"])] += 1
        assignees[(row["assignee"], row["status"])] += 1
        days[counters.day_key(created)]["created"] += 1
        for at, kind, old, new, _ in ticket.events:
            if kind is EventKind.STATUS and Status.CLOSED in (old, new):
                days[counters.day_key(at)]["closes" if new == Status.CLOSED else "reopens"] += 1
        for measure, moment in (
            (counters.FIRST_RESPONSE, row["first_response_at"]),
            (counters.RESOLUTION, row["closed_at"]),
        ):
            if moment is not None:
                day = counters.day_key(moment)
                days[day][f"{measure}s"] += 1
                days[day][f"{measure}_hours"] += row[f"{measure}_hours"]
                durations[(measure, day, row[f"{measure}_bucket"])] += 1
    for ticket in batch:
        ticket.row["requester_id"] = job.people.get(ticket.row["requester"])
    rows = storage.prepare_bulk(job.dialect, [t.row for t in batch], events)
    deadlines = [
        deadline_counts.standing(
            row["priority"],
            row["created_at"],
            row["first_response_hours"],
            row["resolution_hours"],
            job.targets,
        )
        for row in (ticket.row for ticket in batch)
    ]
    amounts_per_day = {day: dict(amounts) for day, amounts in days.items()}
    return _Prepared(
        rows, dict(counts), dict(assignees), amounts_per_day, dict(durations), deadlines
    )


def _insert(conn: Connection, prepared: _Prepared) -> None:
    """One batch of tickets, their events and their share of the counters, in one transaction."""
    storage.insert_bulk(conn, prepared.rows)
    counters.add_counts(conn, prepared.counts)
    counters.add_assignee_counts(conn, prepared.assignees)
    counters.add_activities(conn, prepared.days)
    counters.add_durations(conn, prepared.durations)
    deadline_counts.add(conn, came=prepared.deadlines)
    counters.bump_revision(conn)


def seed_demo(
    engine: Engine,
    count: int,
    now: datetime,
    *,
    seed: int | None = None,
    span_days: int = DEFAULT_SPAN_DAYS,
    progress: Callable[[int], object] | None = None,
    worker_process: bool = False,
) -> int:
    """Insert `count` demo tickets with their histories, BATCH per transaction. With
    `worker_process` (the command line's choice: a spawned process re-imports the caller's
    main module), a worker prepares the next batches while this process writes."""
    base = str(seed if seed is not None else random.SystemRandom().getrandbits(64))
    people = {a.name: a.id for a in read(engine, account_storage.list_accounts)}
    targets = read(engine, sla.load_targets)
    jobs = [
        _Job(
            base,
            first,
            min(BATCH, count - first),
            count,
            now,
            span_days,
            engine.dialect.name,
            people,
            targets,
        )
        for first in range(0, count, BATCH)
    ]
    if not worker_process or len(jobs) <= 2:
        return _write_all(engine, map(_prepare, jobs), progress)
    spawn = multiprocessing.get_context("spawn")  # never fork a threaded server
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return _write_all(engine, _ahead(pool, jobs, depth=3), progress)


def _ahead(pool: ProcessPoolExecutor, jobs: list[_Job], depth: int) -> Iterator[_Prepared]:
    """Results in order, with at most `depth` batches prepared ahead (bounded memory)."""
    pending: deque[Future[_Prepared]] = deque()
    for job in jobs:
        pending.append(pool.submit(_prepare, job))
        if len(pending) > depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _write_all(
    engine: Engine, batches: Iterator[_Prepared], progress: Callable[[int], object] | None
) -> int:
    """A transaction per batch; or, into an empty SQLite desk, one transaction for the whole
    load with the secondary indexes and the search index built once at the end (several
    times faster than keeping them up to date row by row, and all-or-nothing)."""
    made = 0

    def write(conn: Connection, prepared: _Prepared) -> None:
        nonlocal made
        _insert(conn, prepared)
        made += len(prepared.rows.tickets)
        if progress is not None:
            progress(len(prepared.rows.tickets))

    def load_into_empty_desk(conn: Connection) -> bool:
        if storage.count_tickets(conn) or conn.dialect.name != "sqlite":
            return False
        with storage.indexes_deferred(conn):
            for prepared in batches:
                write(conn, prepared)
        return True

    if not run_transaction(engine, load_into_empty_desk):
        for prepared in batches:
            run_transaction(engine, functools.partial(write, prepared=prepared))
    return made


def describe_accounts(made: list[tuple[Account, str]]) -> str:
    """The demo accounts and their passwords, to print once."""
    lines = [
        "Demo accounts (passwords are shown only now; only their hashes are stored):",
        *(f"  {a.role.value:<9}  {a.email:<28}  {password}" for a, password in made),
    ]
    return "\n".join(lines)
