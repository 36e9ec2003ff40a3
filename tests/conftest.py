"""Real databases for every test: a SQLite file each, and a fresh PostgreSQL schema each when
TICKETDESK_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
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
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="TICKETDESK_TEST_POSTGRES_URL not set"),
    ),
]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


def postgres_schema_url(schema: str) -> str:
    base = database_url({"TICKETDESK_DATABASE_URL": POSTGRES_URL})
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database of the parametrised backend."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'tickets.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url({"TICKETDESK_DATABASE_URL": POSTGRES_URL}))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _migrated(url: str) -> Iterator[Engine]:
    """An engine on the database at `url`, migrated; disposed of when the fixture ends."""
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """An engine on a migrated, empty database."""
    yield from _migrated(database)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """For AppTest: the app (run from the project root) on a new, empty SQLite file, with
    Streamlit's data caches emptied, as in a new server process (the dashboard's cache is
    keyed by the desk's revision, which another test's desk can share)."""
    st.cache_data.clear()
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("TICKETDESK_DATABASE_URL", url)
    monkeypatch.setenv("TICKETDESK_DEMO_TICKETS", "0")
    monkeypatch.chdir(ROOT)
    return url


@pytest.fixture
def app_engine(app_sqlite_url: str) -> Iterator[Engine]:
    """For AppTest: an engine on the migrated SQLite file the app opens (app_sqlite_url)."""
    yield from _migrated(app_sqlite_url)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("database", ["sqlite"] if only_sqlite else BACKENDS, indirect=True)


def _account(engine: Engine, name: str, role: str) -> Account:
    """An account made the way `ticketdesk create-admin` makes one (no password: these sign
    in through the services the tests call, not through the sign-in form)."""
    email = name.lower().replace(" ", ".") + "@example.com"
    return account_service.create_account(engine, None, email, name, role, None, NOW)


@pytest.fixture
def agent(engine: Engine) -> Account:
    return _account(engine, "Ana Agent", "agent")


@pytest.fixture
def admin(engine: Engine) -> Account:
    return _account(engine, "Ada Admin", "admin")


@pytest.fixture
def requester(engine: Engine) -> Account:
    return _account(engine, "Rita Requester", "requester")


@pytest.fixture
def other_requester(engine: Engine) -> Account:
    return _account(engine, "Otto Requester", "requester")


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
