"""Many agents at once: 8 writers x 500 edits on the same 50 tickets. Every applied edit has
its events, every refused one was stale, nothing is lost, no error escapes."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.errors import DeskBusy
from ticketdesk.domain.tickets import PRIORITIES, STATUSES, TicketChange
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.db import run_transaction
from ticketdesk.store.schema import ticket_events, tickets
from ticketdesk.store.tickets import get_ticket

WRITERS, EDITS, TICKETS = 8, 500, 50
START = datetime(2026, 11, 1, tzinfo=UTC)


def test_concurrent_edits_lose_nothing(engine: Engine, requester: Account) -> None:
    ids = [
        ticket_service.create_ticket(engine, requester, f"shared {i}", "Low", START).id
        for i in range(TICKETS)
    ]
    # One agent account per writer.
    agents = [
        account_service.create_account(
            engine, None, f"writer{n}@example.com", f"writer {n}", "agent", None, START
        )
        for n in range(WRITERS)
    ]
    applied: dict[int, list[tuple[int, TicketChange]]] = defaultdict(list)
    refused: list[tuple[int, int, int]] = []  # (ticket, version we saw, version it had)
    unchanged: list[int] = []
    escaped: list[BaseException] = []
    lock = threading.Lock()
    clock = iter(START + timedelta(seconds=i) for i in range(1, 10**7))

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(EDITS):
                ticket_id = rng.choice(ids)
                with engine.connect() as conn:  # what this agent's screen shows
                    seen = get_ticket(conn, ticket_id)
                assert seen is not None
                change = TicketChange(status=rng.choice(STATUSES), priority=rng.choice(PRIORITIES))
                with lock:
                    now = next(clock)
                try:
                    done = ticket_service.update_ticket(
                        engine, agents[seed], ticket_id, change, now, seen.version
                    )
                except ticket_service.StaleTicket as stale:
                    with lock:
                        refused.append((ticket_id, seen.version, stale.current.version))
                    continue
                with lock:
                    if done.version == seen.version:  # it already read so: nothing written
                        unchanged.append(ticket_id)
                    else:
                        applied[ticket_id].append((done.version, change))
        except BaseException as exc:  # the test reports whatever escaped
            escaped.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert escaped == []
    total_applied = sum(len(v) for v in applied.values())
    assert total_applied + len(refused) + len(unchanged) == WRITERS * EDITS
    # Every refusal was a stale view: the ticket really had moved past what the agent saw.
    assert all(current > seen for _, seen, current in refused)
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(tickets))}
        events: dict[int, list[Any]] = defaultdict(list)
        for e in conn.execute(select(ticket_events).order_by(ticket_events.c.id)):
            events[e.ticket_id].append(e)
    for ticket_id in ids:
        mine = sorted(applied[ticket_id], key=lambda pair: pair[0])
        row = rows[ticket_id]
        # Versions 2..n were each made by exactly one applied edit: none lost, none doubled.
        assert [v for v, _ in mine] == list(range(2, row.version + 1))
        if mine:  # the ticket reads as its last applied edit
            last = mine[-1][1]
            assert (row.status, row.priority) == (last.status, last.priority)
        # Every applied edit wrote its events, tagged with the version it made, and nothing
        # else wrote any.
        versions_with_events = {e.version for e in events[ticket_id] if e.kind != "created"}
        assert versions_with_events == {v for v, _ in mine}
        # ... each event naming one of the writers' accounts.
        writers = {(a.name, a.id) for a in agents}
        assert all((e.actor, e.actor_id) in writers for e in events[ticket_id][1:])
    print(
        f"\nstress ({engine.dialect.name}): {total_applied} edits applied, "
        f"{len(refused)} refused as stale, {len(unchanged)} already so, 0 lost, "
        f"{len(escaped)} errors escaped"
    )


@pytest.mark.parametrize(("sqlstate", "failures"), [("40001", 4), ("40P01", 4), ("40001", 5)])
def test_serialization_failures_and_deadlocks_are_retried_a_bounded_number_of_times(
    engine: Engine, sqlstate: str, failures: int
) -> None:
    """PostgreSQL raises the conflicts itself (a real server error with the SQLSTATE of a
    serialization failure or a deadlock): four in a row are retried until the work goes
    through; a fifth is not retried again, and the caller is told, not left with a
    driver error or a claim that the database is unreachable."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's SQLSTATEs; SQLite's locking is tested by the writers above")
    attempts = 0

    def work(conn: Connection) -> int:
        nonlocal attempts
        attempts += 1
        if attempts <= failures:
            conn.exec_driver_sql(
                f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{sqlstate}'; END $$"
            )
        return attempts

    if failures < 5:
        assert run_transaction(engine, work) == failures + 1
    else:
        with pytest.raises(DeskBusy, match=r"5 times in a row\. Nothing was changed"):
            run_transaction(engine, work)
        assert attempts == 5
