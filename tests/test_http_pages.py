"""The app's pages over plain HTTP against the real server (`streamlit run ticket.py`): the
Content-Security-Policy on every response, and the CSV export of the view a page shows.

One server for the module; every test makes its own accounts and tickets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine

from tests.e2e.conftest import AppServer, run_app
from tests.signin_support import HTML, add_person, new_database
from ticketdesk.services import accounts as account_service
from ticketdesk.web.engine import SESSION_COOKIE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Engine]]:
    workdir = tmp_path_factory.mktemp("http_pages")
    url, engine = new_database(workdir)
    with run_app(workdir, demo_tickets=0, database_url=url) as app:
        yield app, engine
    engine.dispose()


def signed_in_client(app: AppServer, engine: Engine, role: str) -> httpx.Client:
    """A browser-like client with the session of a new account of `role`."""
    someone = add_person(engine, role)
    token = account_service.sign_in(
        engine, someone.email, someone.password or "", "test", datetime.now(UTC)
    ).token
    client = httpx.Client(base_url=app.url, headers=HTML, timeout=20)
    client.cookies.set(SESSION_COOKIE, token)
    return client


def policy(response: httpx.Response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy, by directive."""
    directives = [d.split() for d in response.headers["content-security-policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


def test_every_response_forbids_images_from_other_hosts(
    server: tuple[AppServer, Engine],
) -> None:
    """A message's Markdown image from any host would be fetched by every reader's browser;
    the policy lets the page load images only from the app itself (and the data: and blob:
    URLs the page makes)."""
    app, engine = server
    with signed_in_client(app, engine, "agent") as client:
        responses = {
            "the app's page": client.get("/"),
            "a ticket's page": client.get("/?ticket=TICKET-1"),
            "the export": client.get("/export.csv"),
        }
    with httpx.Client(base_url=app.url, headers=HTML, timeout=20) as stranger:
        responses["the sign-in page"] = stranger.get("/signin")
        responses["the way to it"] = stranger.get("/")
    assert responses["the app's page"].status_code == 200
    assert responses["the way to it"].status_code == 303
    for what, response in responses.items():
        found = policy(response)
        assert found["img-src"] == ["'self'", "data:", "blob:"], what
        assert found["default-src"] == ["'self'"], what
        assert found["connect-src"] == ["'self'"], what
        # Scripts: the app's files and the inline script of Streamlit's page, by its hash.
        assert found["script-src"][0] == "'self'", what
        assert all(s.startswith("'sha256-") for s in found["script-src"][1:]), what
