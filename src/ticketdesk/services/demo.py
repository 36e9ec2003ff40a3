"""Demo data: the demo accounts, and demo tickets loaded in bulk (a worker process generates
and prepares the batches while this one writes them, with their share of every derived table
computed by the same projection code as a live save)."""

from __future__ import annotations

import functools
import multiprocessing
import random
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from ticketdesk.domain.accounts import Account, Role
from ticketdesk.domain.demo_histories import AGENTS, DEFAULT_SPAN_DAYS, REQUESTERS, demo_ticket
from ticketdesk.domain.sla import Targets
from ticketdesk.queries import tickets as ticket_reads
from ticketdesk.services import accounts as account_service
from ticketdesk.store import accounts as account_store
from ticketdesk.store import targets as target_store
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.db import read, run_transaction
from ticketdesk.store.projections.delta import Delta

BATCH = 5000


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
    delta: Delta


def _prepare(job: _Job) -> _Prepared:
    """Generate one batch and turn it into insert-ready values and the sum of its steps'
    shares of the derived tables (the same Delta.add_step as every live save). Pure Python,
    so a worker process can do it while the database takes the previous batch."""
    rng = random.Random(f"{job.seed}:{job.first}")
    step = job.span_days * 86400 / job.count
    start = job.now - timedelta(days=job.span_days)
    people = job.people
    batch = [
        demo_ticket(rng, start + timedelta(seconds=(i + rng.random()) * step), job.now, people)
        for i in range(job.first, job.first + job.size)
    ]
    delta = Delta()
    events: list[tuple[Any, ...]] = []
    for index, ticket in enumerate(batch):
        for before, outcome, at, who in ticket.steps:
            after = outcome.ticket
            delta.add_step(before, after, at, job.targets)
            who_id = people.get(who) if who else None
            events.extend(
                (index, at, e.kind.value, e.old_value, e.new_value, who, who_id, after.version)
                for e in outcome.events
            )
    rows = [ticket_store.row_values(ticket.final) for ticket in batch]
    return _Prepared(ticket_store.prepare_bulk(job.dialect, rows, events), delta)


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

    def batch(conn: Connection, prepared: _Prepared) -> None:
        nonlocal made
        made += ticket_store.save_bulk(conn, [(prepared.rows, prepared.delta)], progress=progress)

    def load_into_empty_desk(conn: Connection) -> bool:
        nonlocal made
        if ticket_reads.count_tickets(conn) or conn.dialect.name != "sqlite":
            return False
        made = ticket_store.save_bulk(
            conn,
            ((prepared.rows, prepared.delta) for prepared in batches),
            indexes_deferred_=True,
            progress=progress,
        )
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
