"""The database engine of the HTTP routes and the middleware (one per process)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import Engine

from ticketdesk.store.db import make_engine, migrate

from ..config import database_url

SESSION_COOKIE = "ticketdesk_session"


@functools.cache
def _engine(url: str) -> Engine:
    engine = make_engine(url)
    try:
        migrate(engine)
    except Exception:  # not cached: the next request tries again
        engine.dispose()
        raise
    return engine


def engine() -> Engine:
    return _engine(database_url())


def now() -> datetime:
    return datetime.now(UTC)
