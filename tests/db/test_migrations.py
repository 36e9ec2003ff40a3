"""The Alembic migrations build exactly the schema the code describes, on every backend."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from ticketdesk.domain.tickets import PRIORITY_RANK, STATUS_RANK, Priority, Status
from ticketdesk.queries import ticket_table
from ticketdesk.queries.ticket_table import Sort, TicketFilter
from ticketdesk.store.db import make_engine, migrate, read
from ticketdesk.store.schema import (
    assignee_counts,
    attachments,
    blobs,
    deadline_counts,
    deadline_days,
    duration_bands,
    duration_counts,
    metadata,
    tickets,
)


def _not_search_index(name: str | None, type_: str, *_: object) -> bool:
    """The full-text index lives outside the table definitions (an FTS5 table with its shadow
    tables on SQLite, a stored tsvector column under a GIN index on PostgreSQL); the search
    tests of tests/db/test_listing.py cover it."""
    return not (name or "").startswith(("tickets_fts", "ix_tickets_issue_search", "issue_search"))


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _not_search_index})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrating_twice_is_harmless(database: str) -> None:
    engine = make_engine(database)
    migrate(engine)
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"tickets", "ticket_events", "ticket_counts", "daily_activity"} <= tables
    engine.dispose()


def test_a_new_sqlite_desk_migrates_without_a_warning(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What `make run` or `ticketdesk seed-demo` print on a new desk: no SQLAlchemy warning
    (pyproject.toml ignores the reflection one for the schema comparison above only)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        migrate(engine)
    engine.dispose()
    assert [str(w.message) for w in caught] == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_servers_starting_together_migrate_once(database: str) -> None:
    """Several app servers may start at once on one new database (SQLite's IMMEDIATE lock,
    PostgreSQL's advisory lock): every one of them must come up."""
    import threading

    errors: list[BaseException] = []

    def start() -> None:
        engine = make_engine(database)
        try:
            migrate(engine)
        except BaseException as exc:  # the test reports whatever escaped
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_migration_0007_counts_the_tickets_per_assignee(database: str) -> None:
    """Tickets of a desk at revision 0006 (Ana: one Open, one Closed; Ben: one In Progress;
    one Open unassigned) are counted per assignee and status, the unassigned under ""."""
    engine = make_engine(database)
    try:
        migrate(engine, "0006")
        at = datetime(2026, 11, 1, tzinfo=UTC)
        old = [("Ana", "Open"), ("Ana", "Closed"), ("Ben", "In Progress"), (None, "Open")]
        with engine.begin() as conn:
            for assignee, status in old:
                conn.execute(
                    insert(tickets).values(
                        issue="printer",
                        status=status,
                        priority="Low",
                        created_at=at,
                        updated_at=at,
                        version=1,
                        first_response_at=None if status == "Open" else at,
                        closed_at=at if status == "Closed" else None,
                        status_rank=STATUS_RANK[Status(status)],
                        priority_rank=PRIORITY_RANK[Priority.LOW],
                        assignee=assignee,
                    )
                )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(assignee_counts)).all()
        assert sorted(tuple(r) for r in rows) == [
            ("", "Open", 1),
            ("Ana", "Closed", 1),
            ("Ana", "Open", 1),
            ("Ben", "In Progress", 1),
        ]
    finally:
        engine.dispose()


def test_migration_0008_sums_the_duration_histogram_by_bands_of_eight(database: str) -> None:
    """Histogram rows of a desk at revision 0007 are summed per measure, day and band (bucket
    // 8): buckets 7 | 8 and 15 | 16 fall in bands 0, 1 and 2."""
    engine = make_engine(database)
    try:
        migrate(engine, "0007")
        old = [
            ("resolution", "2026-11-01", 7, 2),
            ("resolution", "2026-11-01", 8, 1),
            ("resolution", "2026-11-01", 15, 3),
            ("resolution", "2026-11-01", 16, 5),
            ("resolution", "2026-11-02", 15, 4),
            ("first_response", "2026-11-01", 9, 6),
        ]
        with engine.begin() as conn:
            conn.execute(
                insert(duration_counts),
                [
                    dict(zip(("measure", "day", "bucket", "tickets"), row, strict=True))
                    for row in old
                ],
            )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(duration_bands)).all()
        assert sorted(tuple(r) for r in rows) == [
            ("first_response", "2026-11-01", 1, 6),
            ("resolution", "2026-11-01", 0, 2),
            ("resolution", "2026-11-01", 1, 4),
            ("resolution", "2026-11-01", 2, 5),
            ("resolution", "2026-11-02", 1, 4),
        ]
    finally:
        engine.dispose()


def test_migration_0010_sums_the_deadline_counts_per_day(database: str) -> None:
    """deadline_counts rows of a desk at revision 0009 are summed per priority and creation
    day: High's 23:00 and 00:00 hours fall on two days, Low's two hours on one."""
    engine = make_engine(database)
    try:
        migrate(engine, "0009")
        old = [
            ("High", "2026-11-01 00", 3, 2, 1),
            ("High", "2026-11-01 23", 4, 4, 0),
            ("High", "2026-11-02 00", 1, 0, 1),
            ("Low", "2026-11-01 05", 2, 1, 1),
            ("Low", "2026-11-01 17", 5, 5, 3),
        ]
        columns = ("priority", "hour", "tickets", "first_met", "resolution_met")
        with engine.begin() as conn:
            conn.execute(
                insert(deadline_counts), [dict(zip(columns, row, strict=True)) for row in old]
            )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(deadline_days)).all()
        assert sorted(tuple(r) for r in rows) == [
            ("High", "2026-11-01", 7, 6, 1),
            ("High", "2026-11-02", 1, 0, 1),
            ("Low", "2026-11-01", 7, 6, 4),
        ]
    finally:
        engine.dispose()


def test_migration_0014_search_finds_the_tickets_filed_before_it(database: str) -> None:
    """A desk at revision 0010 with two tickets: after the migration (on PostgreSQL the
    issue's words move to a stored column under a GIN index) a search finds the one holding
    the word's prefix, counted and shown."""
    engine = make_engine(database)
    try:
        migrate(engine, "0010")
        at = datetime(2026, 11, 1, tzinfo=UTC)
        with engine.begin() as conn:
            for issue in ("Printer jams on the 3rd floor", "VPN drops at night"):
                conn.execute(
                    insert(tickets).values(
                        issue=issue,
                        status="Open",
                        priority="Low",
                        created_at=at,
                        updated_at=at,
                        version=1,
                        status_rank=STATUS_RANK[Status.OPEN],
                        priority_rank=PRIORITY_RANK[Priority.LOW],
                    )
                )
        migrate(engine)
        flt = TicketFilter(search="print")

        def search(conn: Connection) -> tuple[tuple[int, bool], list[str]]:
            found, _, _ = ticket_table.fetch_page(conn, flt, Sort(), 1, 50, 1, None)
            return ticket_table.count(conn, flt), [t.issue for t in found]

        assert read(engine, search) == ((1, False), ["Printer jams on the 3rd floor"])
    finally:
        engine.dispose()


def test_migration_0016_gives_every_attached_content_its_blob_row(database: str) -> None:
    """A desk at 0015 with three attachments of two contents: after the migration each
    content has one row in `blobs` (no upload pending), and an attachment naming a content
    without one is refused (the foreign key)."""
    engine = make_engine(database)
    try:
        migrate(engine, "0015")
        at = datetime(2026, 11, 1, tzinfo=UTC)
        one, two = "1" * 64, "2" * 64
        with engine.begin() as conn:
            ticket_id = conn.execute(
                insert(tickets)
                .values(
                    issue="Crash",
                    status="Open",
                    priority="Low",
                    created_at=at,
                    updated_at=at,
                    version=1,
                    status_rank=STATUS_RANK[Status.OPEN],
                    priority_rank=PRIORITY_RANK[Priority.LOW],
                )
                .returning(tickets.c.id)
            ).scalar_one()
            for digest, name in ((one, "a.log"), (two, "b.png"), (one, "c.log")):
                conn.execute(
                    insert(attachments).values(
                        ticket_id=ticket_id,
                        sha256=digest,
                        name=name,
                        size=1,
                        content_type="text/plain",
                        created_at=at,
                    )
                )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(blobs).order_by(blobs.c.sha256)).all()
        assert [tuple(r) for r in rows] == [(one, 0, None), (two, 0, None)]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                insert(attachments).values(
                    ticket_id=ticket_id,
                    sha256="3" * 64,
                    name="d.log",
                    size=1,
                    content_type="text/plain",
                    created_at=at,
                )
            )
    finally:
        engine.dispose()
