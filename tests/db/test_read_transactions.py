"""What db.read gives the work it runs, on each backend."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine

from ticketdesk.store.db import read, run_transaction


def parallel_workers(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar_one())


def isolation(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SHOW transaction_isolation").scalar_one())


def test_postgresql_reads_run_serially_in_one_snapshot(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL settings")
    # A read: one REPEATABLE READ snapshot, no parallel workers (their start costs more than
    # the desk's short reads).
    assert read(engine, parallel_workers) == "0"
    assert read(engine, isolation) == "repeatable read"
    # The setting is the transaction's own: a write, and the next transaction on the same
    # pooled connection, see the server's default again.
    assert run_transaction(engine, parallel_workers) != "0"
    assert run_transaction(engine, isolation) == "read committed"
