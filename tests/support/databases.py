"""Real databases for the tests: which backends run, a PostgreSQL schema of a test's own, a
migrated engine, accounts made as `ticketdesk create-admin` makes them, and emptying a desk
between the examples of a property-based test.

The fixtures over these are in tests/db/conftest.py (`database`, `engine`, the accounts) and
tests/pages/conftest.py (`app_engine`)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, delete, text

from ticketdesk.config import database_url
from ticketdesk.domain.accounts import Account
from ticketdesk.services import accounts as account_service
from ticketdesk.store.db import make_engine, migrate
from ticketdesk.store.schema import (
    assignee_counts,
    daily_activity,
    deadline_counts,
    deadline_days,
    duration_bands,
    duration_counts,
    sla_targets,
    ticket_counts,
    ticket_events,
    ticket_messages,
    tickets,
)

POSTGRES_URL = os.environ.get("TICKETDESK_TEST_POSTGRES_URL", "").strip()
"""The PostgreSQL the database tests also run on; empty: SQLite only."""
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="TICKETDESK_TEST_POSTGRES_URL not set"),
    ),
]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
"""The database tests' `now` fixture."""


def postgres_schema_url(schema: str, base: str = POSTGRES_URL) -> str:
    """The URL of `base` (POSTGRES_URL) with `schema` as the search path."""
    base = database_url({"TICKETDESK_DATABASE_URL": base})
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def postgres_schema(prefix: str = "test", base: str = POSTGRES_URL) -> Iterator[str]:
    """A new, empty schema on `base` (POSTGRES_URL), named `prefix`_ and a random suffix,
    dropped with everything in it afterwards; its URL."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url({"TICKETDESK_DATABASE_URL": base}))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_schema_url(schema, base)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def migrated(url: str) -> Iterator[Engine]:
    """An engine on the database at `url`, migrated; disposed of when the fixture yielding
    from this ends."""
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


def new_account(engine: Engine, name: str, role: str) -> Account:
    """An account made the way `ticketdesk create-admin` makes one (no password: these sign
    in through the services the tests call, not through the sign-in form)."""
    email = name.lower().replace(" ", ".") + "@example.com"
    return account_service.create_account(engine, None, email, name, role, None, NOW)


def empty_desk(engine: Engine) -> None:
    """No tickets and no counts (accounts stay), and the default SLA targets: what
    property-based tests start each example from."""
    with engine.begin() as conn:
        for table in (
            ticket_messages,
            ticket_events,
            tickets,
            ticket_counts,
            assignee_counts,
            daily_activity,
            duration_counts,
            duration_bands,
            deadline_counts,
            deadline_days,
            sla_targets,
        ):
            conn.execute(delete(table))
