"""Engines, migrations and the one way to run a transaction."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from ticketdesk.config import redact
from ticketdesk.domain.errors import DatabaseUnavailable, DeskBusy

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_CACHE_KIB = 65536  # per connection; the default 2 MB thrashes indexes at 1M tickets
SQLITE_MMAP_BYTES = 1 << 32  # SQLite caps it at its own maximum (2 GB in common builds)
"""Reads through a memory map of the file: a connection the pool has not used lately reads
the operating system's cached pages in place instead of copying each into its own cache (a
first search at 1M tickets: 50-90 ms without, 22-25 ms with)."""
MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"
_RETRIES = 5
WRITE_OPTION = "ticketdesk_writes"
MIGRATION_LOCK_KEY = 0x7469636B  # "tick": the advisory lock that serialises migrations
SETUP_LOCK_KEY = 0x64656D6F  # "demo": the advisory lock that serialises a new desk's setup


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_pre_ping=False
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # A writing transaction takes the write lock up front (IMMEDIATE), so two writers queue
    # on the busy timeout instead of one failing half-way with "database is locked" when it
    # upgrades a read lock. Everything else (reads, and plain engine.begin() outside the
    # services) stays DEFERRED and never waits for writers under WAL.
    writes = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (Alembic), inside one writing transaction, retried
    like every write: on SQLite the servers that start together wait for the lock (5 s busy
    timeout), which a slow first migration on a busy machine can outlast."""
    cfg = alembic_config(engine)

    def upgrade(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            # Several app servers may start at once on one database: one migrates, the
            # others wait here and then find nothing left to do.
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    run_transaction(engine, upgrade)


@contextmanager
def setup_lock(engine: Engine) -> Iterator[None]:
    """Held while one process sets up a desk (migrations, then the demo accounts and tickets
    of a new one), so that servers started together on a new database do not each decide it
    is empty and both seed it: the others wait and then find it set up. PostgreSQL: a
    session advisory lock on a connection of its own (the setup spans many transactions);
    SQLite: an exclusive lock on a file beside the database (`<file>.setup.lock`)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({SETUP_LOCK_KEY})")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({SETUP_LOCK_KEY})")
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield  # one process only
        return
    with open(f"{database}.setup.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _unavailable(engine: Engine) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"The ticket database ({redact(str(engine.url))}) cannot be reached right now. "
        "Nothing was changed. This page reloads by itself when the database is back."
    )


def _is_transient(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return (
        "database is locked" in text
        or "could not serialize" in text
        or "deadlock detected" in text
        or getattr(exc.orig, "sqlstate", None) in {"40001", "40P01"}
    )


def read(engine: Engine, work: Callable[[Connection], T]) -> T:
    """A read-only transaction (one consistent snapshot), with the same error handling."""
    return run_transaction(engine, work, writes=False)


def run_transaction(engine: Engine, work: Callable[[Connection], T], *, writes: bool = True) -> T:
    """Run `work` in one transaction; retry lock/serialization conflicts a bounded number of
    times; turn a database that cannot be reached into DatabaseUnavailable."""
    bound = engine.execution_options(**{WRITE_OPTION: writes})
    if not writes and engine.dialect.name == "postgresql":
        # One snapshot for every statement of the read (READ COMMITTED, the default, takes
        # a new one per statement); a read-only REPEATABLE READ never fails to serialise.
        bound = bound.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    serial = not writes and engine.dialect.name == "postgresql"
    for attempt in range(_RETRIES):
        try:
            with bound.begin() as conn:
                if serial:
                    # Reads here are short index reads; starting parallel workers for one
                    # (the planner's choice for a few of the dashboard's) costs 8-10 ms.
                    conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
                return work(conn)
        except DBAPIError as exc:
            if _is_transient(exc):
                if attempt < _RETRIES - 1:
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise DeskBusy(
                    "Other changes to the same tickets kept getting in the way of this one, "
                    f"{_RETRIES} times in a row. Nothing was changed; please try again."
                ) from exc
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise _unavailable(engine) from exc
            raise
    raise AssertionError("unreachable")
