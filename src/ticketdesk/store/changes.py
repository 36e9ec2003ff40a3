"""Telling the app servers that something their open pages show may have changed.

On PostgreSQL a change is announced with NOTIFY in the transaction that makes it, so the
announcement goes out when (and only if) it commits, to every server on the database: each
server's live view LISTENs on one connection (`Listener`) instead of every open page asking.
The channel is the database schema's own, so that desks in other schemas of the same database
(tests, benchmarks) do not wake each other. SQLite serves one app server per file: its live
view polls the desk revision instead, and `announce` does nothing there.

What is announced (the NOTIFY payload):
- `DESK`: the desk revision moved (store.projections.revision.bump_revision, which every
  write of tickets, their derived tables and the SLA targets calls);
- `SESSIONS`: sign-in sessions ended (sign-out, a password change, a deactivation)."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import Connection, Engine, text

from ticketdesk.domain.errors import DatabaseUnavailable

DESK = "desk"
SESSIONS = "sessions"
_CHANNEL = "left('ticketdesk.' || current_schema(), 63)"  # 63: PostgreSQL's longest name
LISTENER_CONNECTION = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
"""libpq settings of the listening connection, unless the database URL sets them."""


def announce(conn: Connection, what: str) -> None:
    """NOTIFY the app servers of this schema that `what` changed, when the caller's
    transaction commits; nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SELECT pg_notify({_CHANNEL}, :what)"), {"what": what})


class Listener:
    """PostgreSQL: a connection of its own (outside the engine's pool, which it would hold a
    place of for good) that LISTENs to the announcements of its schema. A lost connection
    raises DatabaseUnavailable; make a new Listener then."""

    def __init__(self, engine: Engine) -> None:
        from psycopg import Error, sql

        self._error = Error
        dialect = engine.dialect
        args, options = dialect.create_connect_args(engine.url)  # as the engine connects
        # It waits for announcements for good: give up on a server that does not answer, and
        # notice one that went away silently, in seconds rather than the system's minutes.
        options = {**LISTENER_CONNECTION, **options}
        try:
            self._conn: Any = dialect.connect(*args, **options)
            self._conn.autocommit = True
            channel = self._conn.execute(f"SELECT {_CHANNEL}").fetchone()[0]
            self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except Error as exc:
            self.close()
            raise DatabaseUnavailable(f"Cannot listen for changes: {exc}") from exc

    def wait(self, timeout: float) -> set[str]:
        """What was announced, waiting up to `timeout` seconds for the first announcement
        (then taking those already there too); empty if none came."""
        try:
            heard = {n.payload for n in self._conn.notifies(timeout=timeout, stop_after=1)}
            if heard:
                heard |= {n.payload for n in self._conn.notifies(timeout=0)}
        except self._error as exc:
            self.close()
            raise DatabaseUnavailable(f"Stopped listening for changes: {exc}") from exc
        return heard

    def close(self) -> None:
        conn, self._conn = getattr(self, "_conn", None), None
        if conn is not None:
            with contextlib.suppress(Exception):  # a connection that is gone already
                conn.close()
