"""SQL for the API's rate-limit buckets: domain/rate_limit.py's `take`, as one upsert, so that
app servers taking from the same token's bucket at once never lose a request (the row is
locked from the read of its level to the write of the new one). The caller owns the
transaction."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, Float, Integer, bindparam, case, literal
from sqlalchemy.dialects import postgresql, sqlite

from ticketdesk.store.schema import api_rate_buckets


def _max(a: Any, b: Any) -> Any:
    return case((a > b, a), else_=b)


def _min(a: Any, b: Any) -> Any:
    return case((a < b, a), else_=b)


@functools.cache
def _take_statement(dialect_name: str) -> Any:
    """The upsert, built once per backend (building its expressions cost more CPU than
    running it): parameters token_id, per_minute and at."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    per_minute = bindparam("per_minute", type_=Float)
    statement = dialect.insert(api_rate_buckets).values(
        token_id=bindparam("token_id", type_=Integer),
        level=per_minute - 1.0,
        at=bindparam("at", type_=Float),
        granted=True,
    )
    old = api_rate_buckets.c
    now = statement.excluded.at
    elapsed = _max(literal(0.0, Float), now - old.at)
    level = _min(per_minute, old.level + elapsed * per_minute / 60.0)
    granted = level >= 1.0
    return statement.on_conflict_do_update(
        index_elements=["token_id"],
        set_={
            "level": case((granted, level - 1.0), else_=level),
            "at": _max(now, old.at),
            "granted": granted,
        },
    ).returning(old.level, old.granted)


def take(conn: Connection, token_id: int, per_minute: int, at: float) -> float:
    """One request of token `token_id` at `at` (seconds since the epoch): 0 when it may go,
    else the seconds until it could. The same arithmetic as domain.rate_limit.take, in the
    same order (tests/db/test_rate_limits.py compares the two)."""
    row = conn.execute(
        _take_statement(conn.dialect.name),
        {"token_id": token_id, "per_minute": float(per_minute), "at": at},
    ).one()
    return 0.0 if row.granted else (1.0 - row.level) * 60.0 / per_minute


def relax_commit(conn: Connection) -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL to reach the disk. For
    a bucket only: a crash loses at most the last moment's takes, which only refills it."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
