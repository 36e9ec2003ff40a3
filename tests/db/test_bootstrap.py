"""Setting up a new desk: servers started together on one new database (the deploy recipe
starts several at once) seed its demo data once, and none of them fails."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from tests.support.databases import NOW
from ticketdesk.services import bootstrap
from ticketdesk.services.demo import demo_people
from ticketdesk.store import schema
from ticketdesk.store.db import make_engine

DEMO_TICKETS = 30


def test_servers_starting_together_seed_a_new_desk_once(database: str) -> None:
    start = threading.Barrier(3)
    made: list[int] = []
    failures: list[BaseException] = []

    def server() -> None:
        engine = make_engine(database)
        try:
            start.wait()
            made.append(len(bootstrap.prepare(engine, NOW, DEMO_TICKETS)))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=server) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    people = len(demo_people())
    # One server made the demo accounts (and showed their passwords); the others found the
    # desk set up and made nothing.
    assert sorted(made) == [0, 0, people]
    engine = make_engine(database)
    try:
        with engine.connect() as conn:
            tickets = conn.scalar(select(func.count()).select_from(schema.tickets))
            accounts = conn.scalar(select(func.count()).select_from(schema.accounts))
    finally:
        engine.dispose()
    assert (tickets, accounts) == (DEMO_TICKETS, people)
