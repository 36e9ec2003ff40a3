"""A real app server (`streamlit run ticket.py`) per module and backend for the HTTP API
tests, with helpers to make people and their API tokens directly through the services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.api import ApiDesk
from tests.support.app_server import run_app
from tests.support.databases import BACKENDS, POSTGRES_URL, postgres_schema_url
from tests.support.receiver import Receiver, run_receiver
from ticketdesk.config import database_url


@pytest.fixture(scope="module", params=BACKENDS)
def api_desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiDesk]:
    workdir = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'tickets.db'}"
        with run_app(workdir, demo_tickets=0, database_url=url) as server:
            yield ApiDesk(server.url, server.engine)
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url({"TICKETDESK_DATABASE_URL": POSTGRES_URL}))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        with run_app(workdir, demo_tickets=0, database_url=postgres_schema_url(schema)) as server:
            yield ApiDesk(server.url, server.engine)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on loopback (tests/support/receiver.py)."""
    with run_receiver() as running:
        yield running
