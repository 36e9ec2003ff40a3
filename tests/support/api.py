"""The HTTP API tests' desk: a real app server's URL and database, with helpers to make people
and their API tokens directly through the services (the fixture is in tests/http/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine

from tests.support.signin import Person, add_person
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
