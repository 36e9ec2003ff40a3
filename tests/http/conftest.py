"""A real app server (`streamlit run ticket.py`) per module and backend for the HTTP API
tests, with helpers to make people and their API tokens directly through the services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from tests.conftest import BACKENDS, POSTGRES_URL, postgres_schema_url
from tests.e2e.conftest import run_app
from tests.signin_support import Person, add_person
from ticketdesk.config import database_url
from ticketdesk.domain.tickets import Ticket
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services import tokens as token_service


@dataclass
class ApiDesk:
    url: str
    engine: Engine

    def person(self, role: str) -> Person:
        return add_person(self.engine, role)

    def token(self, person: Person, read_only: bool = False) -> str:
        made = token_service.create_token(
            self.engine, person.account, "tests", 30, read_only, datetime.now(UTC)
        )
        return made.token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)

    def ticket(self, requester: Person, issue: str = "Printer on fire") -> Ticket:
        return ticket_service.create_ticket(
            self.engine, requester.account, issue, "Medium", datetime.now(UTC)
        )


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
