"""The app's pages over plain HTTP against the real server (`streamlit run ticket.py`): the
Content-Security-Policy on every response, and the CSV export of the view a page shows.

One server for the module; every test makes its own accounts and tickets."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx
import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from tests.support.app_server import AppServer, run_app
from tests.support.apptest import ROOT, open_app
from tests.support.signin import HTML, Person, add_person, new_database
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.web import page_shell
from ticketdesk.web.engine import SESSION_COOKIE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Engine]]:
    workdir = tmp_path_factory.mktemp("http_pages")
    url, engine = new_database(workdir)
    with run_app(workdir, demo_tickets=0, database_url=url) as app:
        yield app, engine
    engine.dispose()


def session_of_person(engine: Engine, someone: Person) -> str:
    """The token of a session `someone` opens now (the app checks the real clock)."""
    password = someone.password or ""
    return account_service.sign_in(engine, someone.email, password, "test", datetime.now(UTC)).token


def signed_in(app: AppServer, token: str) -> httpx.Client:
    """A browser-like client with the session `token`."""
    client = httpx.Client(base_url=app.url, headers=HTML, timeout=20)
    client.cookies.set(SESSION_COOKIE, token)
    return client


def signed_in_client(app: AppServer, engine: Engine, role: str) -> httpx.Client:
    """A browser-like client with the session of a new account of `role`."""
    return signed_in(app, session_of_person(engine, add_person(engine, role)))


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


def test_the_page_says_where_the_app_is_and_the_policy_allows_it(
    server: tuple[AppServer, Engine],
) -> None:
    """Streamlit's page, at the main page's address and at another page's, carries the
    script that tells it the app is at the root (page_shell.py), allowed by its hash; the
    sign-in page and the export are not touched."""
    app, engine = server
    tag = page_shell.TAG.decode()
    with signed_in_client(app, engine, "agent") as client:
        pages = [client.get("/"), client.get("/dashboard"), client.get("/?ticket=TICKET-1")]
        export = client.get("/export.csv")
    for page in pages:
        assert page.status_code == 200
        assert page.text.count(tag) == 1
        assert page.text.index(tag) < page.text.index('<script type="module"')
        assert int(page.headers["content-length"]) == len(page.content)
        assert page_shell.SCRIPT_HASH in policy(page)["script-src"]
    assert tag not in export.text
    with httpx.Client(base_url=app.url, headers=HTML, timeout=20) as stranger:
        assert tag not in stranger.get("/signin").text


# --------------------------------------------------------------------------- the CSV export


def exported_codes(client: httpx.Client, link: str) -> set[str]:
    """The ticket codes of the CSV at `link` (as the page gives it: relative to the app)."""
    response = client.get(urljoin("/", link), headers={"Accept": "*/*"})
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0][0] == "ID"
    return {row[0] for row in rows[1:]}


def export_link(at: AppTest) -> str:
    (button,) = [b for b in at.link_button if b.proto.label == "Export CSV"]
    return str(button.proto.url)


def test_the_export_holds_the_tickets_of_the_view_with_every_filter(
    server: tuple[AppServer, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list as an agent filters it ("Assigned to me", "Unassigned", with a search), and
    the CSV of its Export link, fetched from the server: the same tickets."""
    app, engine = server
    # The page in AppTest, on the server's database.
    monkeypatch.setenv("TICKETDESK_DATABASE_URL", app.database_url)
    monkeypatch.setenv("TICKETDESK_DEMO_TICKETS", "0")
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    ana, ben = add_person(engine, "agent"), add_person(engine, "agent")
    rita = add_person(engine, "requester")
    word = f"printer{secrets.token_hex(4)}"  # this test's tickets only
    now = datetime.now(UTC)

    def filed(issue: str, assignee: Person | None) -> str:
        ticket = ticket_service.create_ticket(engine, rita.account, issue, "Low", now)
        if assignee is not None:
            change = TicketChange(assignee=assignee.account.name)
            ticket_service.update_ticket(engine, ana.account, ticket.id, change, now)
        return ticket.code

    hers = {filed(f"{word} jams", ana), filed(f"{word} offline", ana)}
    bens = {filed(f"{word} toner", ben)}
    nobodys = {filed(f"{word} noise", None), filed(f"{word} paper", None)}
    filed("scanner broken", ana)  # hers, but not found by the search

    token = session_of_person(engine, ana)
    at = open_app(token)
    at.text_input(key="search").input(word).run()
    with signed_in(app, token) as client:
        assert exported_codes(client, export_link(at)) == hers | bens | nobodys
        at.selectbox(key="filter_who").select("mine").run()
        assert not at.exception
        assert set(at.data_editor[0].value["ID"]) == hers
        assert exported_codes(client, export_link(at)) == hers
        at.selectbox(key="filter_who").select("unassigned").run()
        assert set(at.data_editor[0].value["ID"]) == nobodys
        assert exported_codes(client, export_link(at)) == nobodys
