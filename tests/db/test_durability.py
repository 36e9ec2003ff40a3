"""A writer killed with SIGKILL in the middle of a stream of writes loses nothing it had
acknowledged, leaves no half-written ticket, and the database stays sound."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from ticketdesk.store import projections
from ticketdesk.store.schema import daily_activity, ticket_counts, ticket_events, tickets

WRITER = Path(__file__).parents[1] / "support" / "writer_process.py"
KILLS = 5


def run_and_kill(url: str, tag: str, rng: random.Random) -> tuple[set[int], dict[int, int]]:
    """Start a writer, SIGKILL it after a random moment; what it acknowledged."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), url, tag], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # it is writing
    assert first.startswith("created"), first
    time.sleep(rng.uniform(0.05, 0.6))
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read()
    # Killed in the middle of its stream, not exited on its own before the signal.
    assert proc.wait() == -signal.SIGKILL
    created, edited = set(), {}
    for line in [first, *rest.splitlines()]:
        parts = line.split()
        if parts[:1] == ["created"]:
            created.add(int(parts[1]))
        elif parts[:1] == ["edited"]:
            edited[int(parts[1])] = int(parts[2])
    return created, edited


def test_sigkill_loses_no_acknowledged_write(engine: Engine, database: str) -> None:
    rng = random.Random(20261127)
    acknowledged: set[int] = set()
    edits: dict[int, int] = {}
    for round_ in range(KILLS):
        created, edited = run_and_kill(database, f"round {round_}", rng)
        acknowledged |= created
        edits |= edited
    with engine.connect() as conn:
        stored = {r.id: r for r in conn.execute(select(tickets))}
        missing = acknowledged - set(stored)
        assert missing == set()
        for ticket_id, version in edits.items():
            assert stored[ticket_id].version >= version
        # No ticket without its creation event: ticket and event were one transaction.
        with_created = set(
            conn.execute(
                select(ticket_events.c.ticket_id).where(ticket_events.c.kind == "created")
            ).scalars()
        )
        assert set(stored) == with_created
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        total = conn.execute(select(func.sum(ticket_counts.c.tickets))).scalar_one()
        assert total == len(stored)  # the counters moved with every committed write
        created_per_day = conn.execute(select(func.sum(daily_activity.c.created))).scalar_one()
        assert created_per_day == len(stored)
    with engine.begin() as conn:
        projections.rebuild(conn)
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(ticket_counts.c.tickets))).scalar_one() == len(stored)


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_synchronous_normal(engine: Engine) -> None:
    """WAL with synchronous=NORMAL: a commit survives the process being killed (the WAL is
    written before the commit returns); OFF would not promise even that."""
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
