"""Helpers of the HTTP-level sign-in tests (tests/http/): a database the real server and the
test share, accounts made in it directly, and reading the cookies a response sets."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import Morsel, SimpleCookie
from pathlib import Path

import httpx
from sqlalchemy import Engine

from ticketdesk.domain.accounts import Account
from ticketdesk.services import accounts as account_service
from ticketdesk.store.db import make_engine, migrate
from ticketdesk.web.engine import SESSION_COOKIE

HTML = {"Accept": "text/html,application/xhtml+xml"}
"""What a browser's page load asks for: the middleware answers it with the sign-in page."""
CSRF_COOKIE = "ticketdesk_csrf"
_numbers = itertools.count(1)


def new_database(workdir: Path) -> tuple[str, Engine]:
    """A migrated SQLite file for the server and the test (migrated here first, so the
    server's own migration at start finds nothing to do)."""
    url = f"sqlite:///{workdir / 'tickets.db'}"
    engine = make_engine(url)
    migrate(engine)
    return url, engine


@dataclass(frozen=True)
class Person:
    account: Account
    email: str
    password: str | None


def add_person(
    engine: Engine,
    role: str = "requester",
    *,
    email: str | None = None,
    password: bool = True,
) -> Person:
    """A new account (unique email and name) with a random password, or none (single
    sign-on only)."""
    n = next(_numbers)
    email = email or f"person{n}.{secrets.token_hex(3)}@example.com"
    secret = secrets.token_urlsafe(12) if password else None
    account = account_service.create_account(
        engine, None, email, f"Person {n} {role}", role, secret, datetime.now(UTC)
    )
    return Person(account, email, secret)


def set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The cookies `response` sets (or deletes), by name, with their attributes."""
    found: dict[str, Morsel[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        found.update(jar)
    return found


def deletes_cookie(response: httpx.Response, name: str) -> bool:
    morsel = set_cookies(response).get(name)
    return morsel is not None and morsel.value in ("", '""') and morsel["max-age"] == "0"


def session_token(response: httpx.Response) -> str | None:
    """The session token `response` hands out (None when it sets no session cookie)."""
    morsel = set_cookies(response).get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value not in ("", '""') else None
