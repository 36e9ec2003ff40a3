"""SQL for the API's rate-limit buckets: domain/rate_limit.py's `take`, as one upsert, so that
app servers taking from the same token's bucket at once never lose a request (the row is
locked from the read of its level to the write of the new one). The caller owns the
transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Float, case, literal
from sqlalchemy.dialects import postgresql, sqlite

from ticketdesk.store.schema import api_rate_buckets


def _max(a: Any, b: Any) -> Any:
    return case((a > b, a), else_=b)


def _min(a: Any, b: Any) -> Any:
    return case((a < b, a), else_=b)


def take(conn: Connection, token_id: int, per_minute: int, at: float) -> float:
    """One request of token `token_id` at `at` (seconds since the epoch): 0 when it may go,
    else the seconds until it could. The same arithmetic as domain.rate_limit.take, in the
    same order (tests/db/test_rate_limits.py compares the two)."""
    capacity = literal(float(per_minute), Float)
    rate = literal(per_minute, Float)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(api_rate_buckets).values(
        token_id=token_id, level=float(per_minute) - 1.0, at=at, granted=True
    )
    old = api_rate_buckets.c
    now = statement.excluded.at
    elapsed = _max(literal(0.0, Float), now - old.at)
    level = _min(capacity, old.level + elapsed * rate / 60.0)
    granted = level >= 1.0
    row = conn.execute(
        statement.on_conflict_do_update(
            index_elements=["token_id"],
            set_={
                "level": case((granted, level - 1.0), else_=level),
                "at": _max(now, old.at),
                "granted": granted,
            },
        ).returning(api_rate_buckets.c.level, api_rate_buckets.c.granted)
    ).one()
    return 0.0 if row.granted else (1.0 - row.level) * 60.0 / per_minute


def relax_commit(conn: Connection) -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL to reach the disk. For
    a bucket only: a crash loses at most the last moment's takes, which only refills it."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
