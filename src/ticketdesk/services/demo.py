"""Demo tickets loaded in bulk: a worker process generates and prepares the batches while
this one writes them, with their share of every counter table."""

from __future__ import annotations

import functools
import multiprocessing
import random
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from ticketdesk.domain import durations
from ticketdesk.domain.accounts import Account, Role
from ticketdesk.domain.demo_histories import AGENTS, DEFAULT_SPAN_DAYS, REQUESTERS, demo_ticket
from ticketdesk.domain.sla import Targets
from ticketdesk.domain.tickets import EventKind, Status
from ticketdesk.services import accounts as account_service
from ticketdesk.store import accounts as account_store
from ticketdesk.store import targets as target_store
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.db import read, run_transaction
from ticketdesk.store.projections import counts, deadlines, revision

BATCH = 5000


@dataclass
class _Counts:
    """A share of the counter tables; added up over batches when they are written at once."""

    tickets: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    assignees: Counter[tuple[str | None, str]] = field(default_factory=Counter)
    days: dict[str, Counter[str]] = field(default_factory=dict)  # day -> activity amounts
    durations: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    deadlines: deadlines.Tally = field(default_factory=dict)

    def day(self, day: str) -> Counter[str]:
        amounts = self.days.get(day)  # not setdefault: it would build a Counter on every call
        if amounts is None:
            amounts = self.days[day] = Counter()
        return amounts

    def merge(self, other: _Counts) -> None:
        self.tickets.update(other.tickets)
        self.assignees.update(other.assignees)
        self.durations.update(other.durations)
        for day, amounts in other.days.items():
            self.day(day).update(amounts)
        for key, met in other.deadlines.items():
            mine = self.deadlines.setdefault(key, [0] * len(met))
            for i, amount in enumerate(met):
                mine[i] += amount

    def write(self, conn: Connection) -> None:
        counts.add_counts(conn, self.tickets)
        counts.add_assignee_counts(conn, self.assignees)
        counts.add_activities(conn, {day: dict(amounts) for day, amounts in self.days.items()})
        counts.add_durations(conn, self.durations)
        deadlines.add_tally(conn, self.deadlines)


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
    rows: ticket_store.BulkRows
    counts: _Counts


# (measure, its moment's column, its daily_activity count, hours and bucket columns)
_MEASURES = tuple(
    (measure, moment, f"{measure}s", f"{measure}_hours", f"{measure}_bucket")
    for measure, moment in (
        (durations.FIRST_RESPONSE, "first_response_at"),
        (durations.RESOLUTION, "closed_at"),
    )
)


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
    people = job.people
    events = [
        # each demo change is a version of its own
        (index, at, kind, old, new, who, people.get(who) if who else None, version)
        for index, ticket in enumerate(batch)
        for version, (at, kind, old, new, who) in enumerate(ticket.events, start=1)
    ]
    counts = _Counts()
    for ticket in batch:
        row = ticket.row
        row["requester_id"] = people.get(row["requester"])
        created_day = durations.day_key(row["created_at"])
        counts.tickets[(created_day, row["status"], row["priority"])] += 1
        counts.assignees[(row["assignee"], row["status"])] += 1
        counts.day(created_day)["created"] += 1
        for at, kind, old, new, _ in ticket.events:
            if kind == EventKind.STATUS and Status.CLOSED in (old, new):
                closed = new == Status.CLOSED
                counts.day(durations.day_key(at))["closes" if closed else "reopens"] += 1
        for measure, moment_column, amount, hours_column, bucket_column in _MEASURES:
            moment = row[moment_column]
            if moment is not None:
                day = durations.day_key(moment)
                counts.day(day)[amount] += 1
                counts.day(day)[hours_column] += row[hours_column]
                counts.durations[(measure, day, row[bucket_column])] += 1
    counts.deadlines = deadlines.tally(
        came=[
            deadlines.standing(
                row["priority"],
                row["created_at"],
                row["first_response_hours"],
                row["resolution_hours"],
                job.targets,
            )
            for row in (ticket.row for ticket in batch)
        ]
    )
    return _Prepared(ticket_store.prepare_bulk(job.dialect, [t.row for t in batch], events), counts)


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
    people = {a.name: a.id for a in read(engine, account_store.list_accounts)}
    targets = read(engine, target_store.load_targets)
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
    load with the secondary indexes, the search index and the counters written once at the
    end (several times faster than keeping them up to date row by row, and all-or-nothing)."""
    made = 0

    def rows(conn: Connection, prepared: _Prepared) -> None:
        nonlocal made
        ticket_store.insert_bulk(conn, prepared.rows)
        made += len(prepared.rows.tickets)
        if progress is not None:
            progress(len(prepared.rows.tickets))

    def batch(conn: Connection, prepared: _Prepared) -> None:
        rows(conn, prepared)
        prepared.counts.write(conn)
        revision.bump_revision(conn)

    def load_into_empty_desk(conn: Connection) -> bool:
        if ticket_store.count_tickets(conn) or conn.dialect.name != "sqlite":
            return False
        total = _Counts()
        with ticket_store.indexes_deferred(conn):
            for prepared in batches:
                rows(conn, prepared)
                total.merge(prepared.counts)
        total.write(conn)
        revision.bump_revision(conn)
        return True

    if not run_transaction(engine, load_into_empty_desk):
        for prepared in batches:
            run_transaction(engine, functools.partial(batch, prepared=prepared))
    ticket_store.refresh_planner_statistics(engine)
    return made


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
    if read(engine, account_store.any_account):
        return []
    return create_demo_accounts(engine, now)


def create_demo_accounts(engine: Engine, now: datetime) -> list[tuple[Account, str]]:
    """The demo accounts, each with a newly generated password (returned, to be shown once;
    only argon2 hashes are stored). Call on a desk without accounts."""
    made = []
    for name, email, role in demo_people():
        password = account_service.generate_password()
        made.append(
            (
                account_service.create_account(engine, None, email, name, role, password, now),
                password,
            )
        )
    return made


def describe_accounts(made: list[tuple[Account, str]]) -> str:
    """The demo accounts and their passwords, to print once."""
    lines = [
        "Demo accounts (passwords are shown only now; only their hashes are stored):",
        *(f"  {a.role.value:<9}  {a.email:<28}  {password}" for a, password in made),
    ]
    return "\n".join(lines)
