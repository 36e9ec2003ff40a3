"""The real app as a server of its own for the tests that talk to it over HTTP (tests/http/)
or through a browser (tests/e2e/): `streamlit run ticket.py` on a free port with its own
database (a new SQLite file unless given), and the people (accounts with a password) in it.

The server process itself is tests/support/server.py's StreamlitServer, shared with bench/."""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.server import ServerNotReady, StreamlitServer
from ticketdesk.domain.accounts import Account, email_key
from ticketdesk.services import accounts as account_service
from ticketdesk.store import accounts as account_store
from ticketdesk.store.db import make_engine, migrate, read

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT / "test-artifacts"
"""Server logs (and the browser tests' screenshots), kept after the run."""
SERVER_START_TIMEOUT_S = 45.0

STAFF_NAMES = ("Ana Ortiz", "Ben Castro", "Cleo Park", "Dev Rao")
"""The people of a test, in the order it asks for Desks: person 1 is Ana, person 2 Ben...
(none of them a demo account's name, which would be taken in a demo database)."""


@dataclass(frozen=True)
class Person:
    """An account of the app under test, with the password it signs in with."""

    account: Account
    password: str

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def email(self) -> str:
        return self.account.email

    @property
    def is_staff(self) -> bool:
        """An agent or admin, by role (Account.is_staff is also False while inactive)."""
        return self.account.role.value in ("agent", "admin")


def email_of(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".")
    return f"{slug}@e2e.example.com"


def password_of(name: str) -> str:
    return f"e2e password of {name}"  # >= 12 characters, as the app requires


@dataclass
class AppServer:
    url: str
    database_url: str
    log: Path
    reachable_engine: Engine | None = field(repr=False)
    """None when the server was started with database_reachable=False."""

    @property
    def engine(self) -> Engine:
        """An engine on the server's database, for the test to make accounts and tickets."""
        if self.reachable_engine is None:
            raise RuntimeError("run_app(database_reachable=False) gives the test no engine")
        return self.reachable_engine

    def person(self, name: str, role: str = "agent") -> Person:
        """The account called `name` in this app's database, made now (with `role`) if it
        does not exist yet. Tests that share an app (demo_app) share its people."""
        email = email_of(name)
        found = read(
            self.engine, lambda conn: account_store.account_by_email(conn, email_key(email))
        )
        if found is None:
            account = account_service.create_account(
                self.engine, None, email, name, role, password_of(name), utc_now()
            )
        else:
            account = found[0]
            assert (account.name, account.role.value) == (name, role), (
                f"{email} exists already as {account.name} ({account.role})"
            )
        return Person(account, password_of(name))

    def session_token(self, person: Person) -> str:
        """A new session of `person` (as the sign-in form would open), for its cookie."""
        return account_service.sign_in(
            self.engine, person.email, person.password, "e2e-fixture", utc_now()
        ).token


def utc_now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def run_app(
    workdir: Path,
    demo_tickets: int,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    log_name: str = "streamlit.log",
    database_reachable: bool = True,
) -> Iterator[AppServer]:
    """`streamlit run ticket.py` on a free port, on `database_url` (default: a new SQLite file
    in `workdir`), with `extra_env` added to its environment; its output goes to
    `workdir / log_name`. With `database_reachable=False` the test gets no engine."""
    database_url = database_url or f"sqlite:///{workdir / 'tickets.db'}"
    server = StreamlitServer(
        "ticket.py",
        cwd=PROJECT,
        log=workdir / log_name,
        env={
            "TICKETDESK_DATABASE_URL": database_url,
            "TICKETDESK_DEMO_TICKETS": str(demo_tickets),
            **(extra_env or {}),
        },
    )
    engine: Engine | None = None
    try:
        try:
            server.start(SERVER_START_TIMEOUT_S)
        except ServerNotReady as exc:
            pytest.fail(str(exc), pytrace=False)
        # The server has migrated (and seeded) the database before answering; migrating here
        # too only checks that, and the tests can then make accounts and tickets directly.
        if database_reachable:
            engine = make_engine(database_url)
            migrate(engine)
        yield AppServer(
            url=server.url, database_url=database_url, log=server.log, reachable_engine=engine
        )
    finally:
        server.stop()
        if engine is not None:
            engine.dispose()
        # Kept with the screenshots: pytest's temporary directories are soon recycled.
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(server.log, ARTIFACTS / f"{workdir.name}-{log_name}")
