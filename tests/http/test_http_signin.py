"""The sign-in gate over plain HTTP against the real server (`streamlit run ticket.py`): nothing
but the sign-in pages and the health check answers without a session; the sign-in form's
CSRF check, refusals, throttling and redirects; the session cookie's attributes; server-side
invalidation (sign-out, expiry, deactivation, forged tokens); the CSV export per person.

One server for the module (it starts in about a second); every test makes its own accounts.
Tests sign in from 127.0.0.1, which may fail 20 times in 15 minutes (the per-address throttle):
they fail 3 times there in all; the throttling and timing tests connect from addresses of
their own (new_address)."""

from __future__ import annotations

import csv
import io
import itertools
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest
import streamlit
from sqlalchemy import Engine
from starlette.routing import Route
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.app_server import AppServer, run_app
from tests.support.signin import (
    CSRF_COOKIE,
    HTML,
    Person,
    add_person,
    deletes_cookie,
    new_database,
    session_token,
    set_cookies,
)
from ticketdesk.domain.throttle import ADDRESS_LIMIT, FREE_FAILURES
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.web import routes
from ticketdesk.web.engine import SESSION_COOKIE
from ticketdesk.web.guard import OPEN_PATHS

WRONG_CREDENTIALS = account_service.WRONG_CREDENTIALS
STATIC_SCRIPT = next(
    path.name for path in (Path(streamlit.__file__).parent / "static/static/js").glob("*.js")
)
_addresses = itertools.count(1)


def new_address() -> str:
    """A client address of its own (127.0.0.0/8 is all loopback on Linux): failures from it
    count for nobody else, so the throttling tests do not share 127.0.0.1's counters."""
    n = next(_addresses)
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


@dataclass
class Desk:
    server: AppServer
    engine: Engine

    def client(self, session: str | None = None, address: str | None = None) -> httpx.Client:
        """A client that, like a browser, keeps cookies and asks for pages; redirects are
        checked by the tests, not followed. `address`: the local address it connects from."""
        transport = httpx.HTTPTransport(local_address=address) if address else None
        client = httpx.Client(
            base_url=self.server.url, headers=HTML, timeout=20, transport=transport
        )
        if session is not None:
            client.cookies.set(SESSION_COOKIE, session)
        return client

    @contextmanager
    def signed_in(self, person: Person) -> Iterator[httpx.Client]:
        with self.client() as client:
            response = submit(client, person.email, person.password or "")
            assert response.status_code == 303, response.text
            yield client

    def stream_url(self) -> str:
        return self.server.url.replace("http://", "ws://") + "/_stcore/stream"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    workdir = tmp_path_factory.mktemp("http_signin")
    url, engine = new_database(workdir)
    with run_app(workdir, demo_tickets=0, database_url=url) as server:
        yield Desk(server, engine)
    engine.dispose()


def csrf_of(client: httpx.Client) -> str:
    """Load the sign-in form (as a browser does before posting it); its CSRF token."""
    page = client.get("/signin")
    assert page.status_code == 200
    return set_cookies(page)[CSRF_COOKIE].value


def submit(
    client: httpx.Client, email: str, password: str, next_path: str = "/", csrf: str | None = None
) -> httpx.Response:
    token = csrf_of(client) if csrf is None else csrf
    form = {"email": email, "password": password, "csrf": token, "next": next_path}
    return client.post("/signin", data=form)


def refused(client: httpx.Client) -> bool:
    """Does the server refuse this client (page load, export, any other request)?"""
    page = client.get("/")
    export = client.get("/export.csv", headers={"Accept": "*/*"})
    return (
        page.status_code == 303
        and page.headers["location"] == "/signin?next=%2F"
        and export.status_code == 401
        and "ticket" not in export.text.lower()
    )


# --------------------------------------------------------------------------- without a session


def test_a_page_load_goes_to_the_sign_in_page(desk: Desk) -> None:
    with desk.client() as client:
        response = client.get("/")
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?next=%2F"
        deep = client.get("/dashboard?view=all")
        assert deep.status_code == 303
        assert deep.headers["location"] == "/signin?next=%2Fdashboard%3Fview%3Dall"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/dashboard",
        "/export.csv",
        "/_stcore/host-config",
        "/_stcore/metrics",
        "/index.html",
        "/favicon.png",
        "/manifest.json",
        f"/static/js/{STATIC_SCRIPT}",  # an asset that exists
        "/static/anything/at/all.css",
        "/media/x.png",
        "/auth/logout",
        "/signin/sso/other",
        "/signin/",
    ],
)
@pytest.mark.parametrize("accept", ["text/html", "*/*", "application/json"])
def test_nothing_else_answers_without_a_session(desk: Desk, path: str, accept: str) -> None:
    with desk.client() as client:
        response = client.get(path, headers={"Accept": accept})
    if accept == "text/html":  # a page load: on to the sign-in page, and back here after
        assert response.status_code == 303, (response.status_code, response.text[:200])
        assert response.headers["location"] == f"/signin?next={quote(path, safe='')}"
    else:
        assert response.status_code == 401, (response.status_code, response.text[:200])
        assert response.text == "Sign in first: /signin"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "HEAD"])
def test_other_methods_are_refused_without_a_session(desk: Desk, method: str) -> None:
    with desk.client() as client:
        response = client.request(method, "/export.csv", headers={"Accept": "*/*"})
    assert response.status_code == 401


def test_the_websocket_is_refused_without_a_valid_session(desk: Desk) -> None:
    for cookie in (None, f"{SESSION_COOKIE}={secrets.token_urlsafe(32)}"):
        headers = {"Cookie": cookie} if cookie else None
        with pytest.raises(InvalidStatus) as refusal:
            connect(desk.stream_url(), additional_headers=headers, open_timeout=10)
        assert refusal.value.response.status_code == 403


def test_the_websocket_opens_with_a_session(desk: Desk) -> None:
    """The positive control of the test above: with a session the same handshake succeeds."""
    person = add_person(desk.engine)
    with desk.signed_in(person) as client:
        token = client.cookies[SESSION_COOKIE]
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    with connect(desk.stream_url(), additional_headers=cookie, open_timeout=10) as socket:
        assert socket.response is not None
        assert socket.response.status_code == 101


def test_the_health_check_is_open(desk: Desk) -> None:
    with desk.client() as client:
        response = client.get("/_stcore/health")
    assert response.status_code == 200
    assert response.text == "ok"


def test_the_sign_in_page_has_the_form_and_a_csrf_cookie(desk: Desk) -> None:
    with desk.client() as client:
        response = client.get("/signin", params={"next": "/dashboard"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    body = response.text
    assert '<form method="post" action="/signin">' in body
    for field in ('name="email"', 'name="password"', 'name="csrf"', 'name="next"'):
        assert field in body
    assert 'name="next" value="/dashboard"' in body
    csrf = set_cookies(response)[CSRF_COOKIE]
    assert csrf.value and f'value="{csrf.value}"' in body
    assert csrf["httponly"] is True
    assert csrf["samesite"].lower() == "strict"
    assert "Sign in with single sign-on" not in body  # not configured on this server


def test_the_signed_out_notice(desk: Desk) -> None:
    with desk.client() as client:
        response = client.get("/signin", params={"signed_out": "1"})
    assert "You are signed out." in response.text


# --------------------------------------------------------------------------- the sign-in form


@pytest.mark.parametrize("csrf", ["", "not-the-token", "é"])
def test_a_post_without_the_forms_csrf_token_is_refused(desk: Desk, csrf: str) -> None:
    person = add_person(desk.engine)
    with desk.client() as client:
        csrf_of(client)
        response = submit(client, person.email, person.password or "", csrf=csrf)
        assert response.status_code == 400
        assert "The sign-in form had expired" in response.text
        assert session_token(response) is None
        assert refused(client)


def test_a_post_without_the_csrf_cookie_is_refused(desk: Desk) -> None:
    """A cross-site form post: the token may be known, the SameSite=Strict cookie is not sent."""
    person = add_person(desk.engine)
    with desk.client() as loader:
        csrf = csrf_of(loader)
    with desk.client() as client:
        response = submit(client, person.email, person.password or "", csrf=csrf)
        assert response.status_code == 400
        assert session_token(response) is None
        assert refused(client)


def test_a_wrong_password_is_refused_with_a_clear_message(desk: Desk) -> None:
    person = add_person(desk.engine)
    with desk.client() as client:
        response = submit(client, person.email, "not the password at all")
        assert response.status_code == 401
        assert WRONG_CREDENTIALS in response.text
        assert f'value="{person.email}"' in response.text  # the form keeps the email
        assert session_token(response) is None
        assert refused(client)


def test_the_right_password_opens_a_session(desk: Desk) -> None:
    person = add_person(desk.engine)
    with desk.client() as client:
        response = submit(client, person.email.upper(), person.password or "", "/dashboard?x=1")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard?x=1"
        cookie = set_cookies(response)[SESSION_COOKIE]
        assert len(cookie.value) >= 40
        assert cookie["httponly"] is True
        assert cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/"
        assert cookie["max-age"] == str(12 * 60 * 60)
        assert not cookie["secure"]  # plain HTTP here; Secure over HTTPS
        assert deletes_cookie(response, CSRF_COOKIE)
        page = client.get("/")
        assert page.status_code == 200
        assert "<html" in page.text.lower()
        assert client.get(f"/static/js/{STATIC_SCRIPT}").status_code == 200
        # Already signed in: the sign-in page sends on.
        again = client.get("/signin", params={"next": "/dashboard"})
        assert again.status_code == 303
        assert again.headers["location"] == "/dashboard"
    # Only a hash of the token is stored: the cookie's value is nowhere in the database.
    raw = desk.engine.raw_connection()
    try:
        assert raw.driver_connection is not None
        dump = "\n".join(raw.driver_connection.iterdump())  # SQLite: the whole database
    finally:
        raw.close()
    assert cookie.value not in dump
    assert account_service.token_hash(cookie.value) in dump


@pytest.fixture(scope="module")
def redirected(desk: Desk) -> Person:
    """One person for the many sign-ins of the redirect tests."""
    return add_person(desk.engine)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/path",
        "https://evil.example",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "evil.example",
        "/signin",
        "/signin?next=//evil.example",
    ],
)
def test_no_redirect_off_the_site_after_sign_in(
    desk: Desk, redirected: Person, target: str
) -> None:
    with desk.client() as client:
        response = submit(client, redirected.email, redirected.password or "", target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/%2F/evil.example"])
def test_a_redirect_with_odd_characters_stays_on_the_site(
    desk: Desk, redirected: Person, target: str
) -> None:
    """Browsers drop tabs and newlines from URLs, so "/<tab>/evil.example" would be
    "//evil.example"; the Location header must keep them encoded."""
    with desk.client() as client:
        response = submit(client, redirected.email, redirected.password or "", target)
    assert response.status_code == 303
    location = response.headers["location"]
    assert "\t" not in location and "\n" not in location
    resolved = urlsplit(urljoin(desk.server.url + "/signin", location))
    assert resolved.netloc == urlsplit(desk.server.url).netloc


def test_the_echoed_email_and_next_are_escaped(desk: Desk) -> None:
    with desk.client() as client:
        response = submit(client, "<script>x</script>@a.b", "whatever password")
        assert response.status_code == 401
        assert "<script>x</script>" not in response.text
        assert "&lt;script&gt;x&lt;/script&gt;@a.b" in response.text
        page = client.get("/signin", params={"next": '/"><script>alert(1)</script>'})
        assert "<script>alert(1)</script>" not in page.text
        assert '"><script>' not in page.text


def test_failures_from_one_address_slow_it_down_but_never_lock_the_owner_out(
    desk: Desk,
) -> None:
    """Wrong passwords for someone's email from one address do not stop the owner, at an
    address that has not been failing; they make the guessing address wait (right password or
    not, and the same for an email without an account)."""
    person = add_person(desk.engine)
    wait = "Too many failed sign-ins for this email from your network address. Try again in 1"
    with desk.client(address=new_address()) as guesser:
        for _ in range(FREE_FAILURES):
            assert submit(guesser, person.email, "wrong password!!").status_code == 401
        with desk.client(address=new_address()) as owner:
            response = submit(owner, person.email, person.password or "")
            assert response.status_code == 303, response.text
            assert session_token(response) is not None
        response = submit(guesser, person.email, person.password or "")
        assert response.status_code == 429
        assert wait in response.text
        assert session_token(response) is None
        assert refused(guesser)
        # An email without an account: the very same answers.
        nobody = "nobody.here@example.com"
        for _ in range(FREE_FAILURES):
            assert submit(guesser, nobody, "wrong password!!").status_code == 401
        response = submit(guesser, nobody, "any password at all")
        assert response.status_code == 429
        assert wait in response.text


def test_one_address_guessing_many_emails_is_stopped(desk: Desk) -> None:
    person = add_person(desk.engine)
    sprayer = new_address()
    with desk.client(address=sprayer) as client:
        for n in range(ADDRESS_LIMIT):
            response = submit(
                client, f"sprayed{n}.{secrets.token_hex(3)}@example.com", "Summer2026!"
            )
            assert response.status_code == 401
        response = submit(client, person.email, person.password or "")
        assert response.status_code == 429
        assert "Too many failed sign-ins from your network address. Try again in" in response.text
        assert session_token(response) is None
    with desk.client(address=new_address()) as elsewhere:
        assert submit(elsewhere, person.email, person.password or "").status_code == 303


TIMED_TRIES = 20


def timed_refusal(desk: Desk, email: str) -> float:
    """Seconds the server takes to refuse a wrong password for `email`, from an address of
    its own (so that no throttle applies and nothing but the check itself is timed)."""
    with desk.client(address=new_address()) as client:
        token = csrf_of(client)
        form = {"email": email, "password": "not the password at all", "csrf": token}
        started = time.perf_counter()
        response = client.post("/signin", data=form)
        took = time.perf_counter() - started
    assert response.status_code == 401, response.text
    assert WRONG_CREDENTIALS in response.text
    return took


def test_a_wrong_password_takes_as_long_for_an_unknown_email_as_for_a_known_one(
    desk: Desk,
) -> None:
    """The time of a refusal must not tell which emails have an account: the median of 20
    refusals for emails without an account and of 20 for existing accounts (one try each,
    alternating, so that the machine's load weighs on both alike) within 20 % of each other."""
    known = [add_person(desk.engine).email for _ in range(TIMED_TRIES)]
    unknown = [f"nobody{n}.{secrets.token_hex(3)}@example.com" for n in range(TIMED_TRIES)]
    known_times, unknown_times = [], []
    for existing, missing in zip(known, unknown, strict=True):
        known_times.append(timed_refusal(desk, existing))
        unknown_times.append(timed_refusal(desk, missing))
    ratio = statistics.median(unknown_times) / statistics.median(known_times)
    assert 1 / 1.2 <= ratio <= 1.2, (ratio, sorted(known_times), sorted(unknown_times))


# --------------------------------------------------------------------------- the session


def test_a_forged_session_cookie_is_refused(desk: Desk) -> None:
    with desk.client(session=secrets.token_urlsafe(32)) as client:
        assert refused(client)
        page = client.get("/signin")  # shows the form and drops the forged cookie
        assert page.status_code == 200
        assert deletes_cookie(page, SESSION_COOKIE)
    with desk.client(session="x" * 5000) as client:  # oversized: refused, not an error
        assert refused(client)


@pytest.mark.parametrize("foreign", ['consent={"ads":false}', "theme=dark mode", 'pref="a'])
def test_a_session_is_found_among_other_sites_cookies(desk: Desk, foreign: str) -> None:
    """Cookies of other apps on the same host (or a parent domain) come first in the header
    when they are older; the session must still be found. Otherwise the middleware sends the
    browser to /signin, whose handler (Starlette's lenient parser) finds the session and
    sends it back: a redirect loop the person cannot leave."""
    person = add_person(desk.engine)
    token = account_service.sign_in(
        desk.engine, person.email, person.password or "", "pytest", datetime.now(UTC)
    ).token
    cookie = {"Cookie": f"{foreign}; {SESSION_COOKIE}={token}"}
    with desk.client() as client:
        assert client.get("/signin", headers=cookie).status_code == 303  # "signed in: go on"
        page = client.get("/", headers=cookie)
        assert page.status_code == 200, page.headers.get("location")
        assert client.get("/export.csv", headers=cookie).status_code == 200
    with connect(desk.stream_url(), additional_headers=cookie, open_timeout=10) as socket:
        assert socket.response is not None
        assert socket.response.status_code == 101


def test_an_expired_session_is_refused(desk: Desk) -> None:
    person = add_person(desk.engine)
    long_ago = datetime.now(UTC) - timedelta(hours=13)
    signed_in = account_service.sign_in(
        desk.engine, person.email, person.password or "", "pytest", long_ago
    )
    with desk.client(session=signed_in.token) as client:
        assert refused(client)
    fresh = account_service.sign_in(
        desk.engine, person.email, person.password or "", "pytest", datetime.now(UTC)
    )
    with desk.client(session=fresh.token) as client:  # the control: same account, in time
        assert client.get("/").status_code == 200


def sign_out(client: httpx.Client, csrf: str | None = None, **headers: str) -> httpx.Response:
    """Post the sidebar's sign-out form: with the token the page renders for the client's
    session unless `csrf` is given."""
    if csrf is None:
        csrf = account_service.sign_out_token(client.cookies[SESSION_COOKIE])
    return client.post("/signout", data={"csrf": csrf}, headers=headers)


def still_signed_in(client: httpx.Client) -> bool:
    return client.get("/").status_code == 200 and client.get("/export.csv").status_code == 200


def test_sign_out_ends_the_session_on_the_server(desk: Desk) -> None:
    person = add_person(desk.engine)
    with desk.signed_in(person) as client:
        token = client.cookies[SESSION_COOKIE]
        response = sign_out(client)
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?signed_out=1"
        assert deletes_cookie(response, SESSION_COOKIE)
    with desk.client(session=token) as replay:  # the old cookie, kept by an attacker
        assert refused(replay)
        # An ended (or expired) session can still sign out; it opens nothing.
        again = sign_out(replay)
        assert again.status_code == 303
        assert again.headers["location"] == "/signin?signed_out=1"
        assert refused(replay)


@pytest.mark.parametrize("csrf", ["", "not-the-token", "another session's", "é"])
def test_a_sign_out_without_its_token_ends_nothing_and_keeps_the_cookie(
    desk: Desk, csrf: str
) -> None:
    person = add_person(desk.engine)
    with desk.signed_in(person) as client, desk.signed_in(person) as other:
        if csrf == "another session's":
            csrf = account_service.sign_out_token(other.cookies[SESSION_COOKIE])
        response = sign_out(client, csrf)
        assert response.status_code == 403
        assert "Not signed out" in response.text
        assert "set-cookie" not in response.headers
        assert still_signed_in(client)
        assert sign_out(client).status_code == 303  # the control: with its token it works
        assert refused(client)


def test_a_cross_site_sign_out_changes_nothing(desk: Desk) -> None:
    """Another site's form posting to /signout: the browser sends no SameSite=Lax cookie, and
    an Origin (or, in older browsers, perhaps nothing). Neither drops the cookie or ends the
    session."""
    person = add_person(desk.engine)
    with desk.signed_in(person) as client:
        token = client.cookies[SESSION_COOKIE]
        csrf = account_service.sign_out_token(token)
        with desk.client() as cross_site:  # no cookie
            for headers in ({"Origin": "https://evil.example"}, {}):
                response = cross_site.post("/signout", data={"csrf": csrf}, headers=headers)
                assert response.status_code == (403 if headers else 303)
                assert "set-cookie" not in response.headers
        # With the cookie and the token, but from another site: refused all the same.
        response = sign_out(client, Origin="https://evil.example")
        assert response.status_code == 403
        assert "set-cookie" not in response.headers
        assert still_signed_in(client)


def test_get_and_head_sign_out_send_to_the_sign_in_page_and_end_nothing(desk: Desk) -> None:
    person = add_person(desk.engine)
    with desk.client() as nobody:
        for method in ("GET", "HEAD"):
            response = nobody.request(method, "/signout")
            assert response.status_code == 303, (method, response.status_code)
            assert response.headers["location"] == "/signin"
            assert '<div id="root">' not in response.text
    with desk.signed_in(person) as client:
        for method in ("GET", "HEAD"):
            response = client.request(method, "/signout")
            assert response.status_code == 303
            assert response.headers["location"] == "/signin"
            assert "set-cookie" not in response.headers
        assert still_signed_in(client)
        assert PAGE_SHELL in client.get("/").text  # what the shell looks like, once signed in


PAGE_SHELL = '<div id="root">'
"""What Streamlit's page shell (static/index.html) has and no page of the desk's own has."""


@pytest.mark.parametrize("path", sorted(OPEN_PATHS))
def test_no_open_path_serves_the_page_shell(desk: Desk, path: str) -> None:
    """The paths the middleware lets through without a session answer with the desk's own
    pages or redirects, never with Streamlit's page shell (GET /signout used to)."""
    with desk.client() as client:
        page = client.get(path)
        head = client.head(path)
    assert PAGE_SHELL not in page.text, (path, page.status_code)
    # HEAD is answered as GET is, without the body.
    assert (head.status_code, head.headers.get("content-type")) == (
        page.status_code,
        page.headers.get("content-type"),
    )


CROSS_ORIGIN = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},  # this host, another port: another origin
    {"Referer": "https://evil.example/page.html"},
]


POST_PATHS = sorted(
    {r.path for r in routes() if isinstance(r, Route) and r.methods and "POST" in r.methods}
)


@pytest.mark.parametrize("headers", CROSS_ORIGIN, ids=lambda h: " ".join(h.values()))
@pytest.mark.parametrize("path", POST_PATHS)
def test_every_post_route_refuses_other_origins(
    desk: Desk, path: str, headers: dict[str, str]
) -> None:
    """Every state-changing route of the desk's (listed by ticketdesk.web.routes, so a new
    one is covered too), sent everything it needs but from another site: 403, nothing done."""
    person = add_person(desk.engine)
    with desk.client() as client:
        sign_in_token = csrf_of(client)  # the sign-in form's token (and its cookie)
        session = account_service.sign_in(
            desk.engine, person.email, person.password or "", "pytest", datetime.now(UTC)
        ).token
        client.cookies.set(SESSION_COOKIE, session)
        csrf = sign_in_token if path == "/signin" else account_service.sign_out_token(session)
        form = {"csrf": csrf, "email": person.email, "password": person.password or ""}
        response = client.post(path, data=form, headers=headers)
        assert response.status_code == 403, response.text
        assert "came from another site" in response.text
        assert "set-cookie" not in response.headers
        assert still_signed_in(client)


def test_a_sign_in_from_another_site_opens_no_session(desk: Desk) -> None:
    person = add_person(desk.engine)
    with desk.client() as client:
        csrf = csrf_of(client)
        form = {"email": person.email, "password": person.password or "", "csrf": csrf}
        response = client.post("/signin", data=form, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403
        assert session_token(response) is None
    # The control: the same form from the desk's own page (its Origin, or only a Referer).
    here = desk.server.url
    for headers in ({"Origin": here}, {"Referer": f"{here}/signin?next=%2F"}):
        with desk.client() as client:
            form["csrf"] = csrf_of(client)
            response = client.post("/signin", data=form, headers=headers)
            assert response.status_code == 303, response.text
            assert session_token(response) is not None


def test_deactivation_ends_the_session_at_once(desk: Desk) -> None:
    admin = add_person(desk.engine, "admin")
    person = add_person(desk.engine)
    with desk.signed_in(person) as client:
        assert client.get("/").status_code == 200
        account_service.set_active(desk.engine, admin.account, person.account.id, False)
        assert refused(client)
        again = submit(client, person.email, person.password or "")
        assert again.status_code == 401
        assert WRONG_CREDENTIALS in again.text


# --------------------------------------------------------------------------- the CSV export


def exported_codes(client: httpx.Client) -> set[str]:
    response = client.get("/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0][0] == "ID"
    return {row[0] for row in rows[1:]}


def test_a_requesters_export_holds_only_their_own_tickets(desk: Desk) -> None:
    rita, otto = add_person(desk.engine), add_person(desk.engine)
    agent = add_person(desk.engine, "agent")
    now = datetime.now(UTC)
    ritas = {
        ticket_service.create_ticket(
            desk.engine, rita.account, f"Rita's issue {n}", "High", now
        ).code
        for n in range(3)
    }
    ottos = {
        ticket_service.create_ticket(
            desk.engine, otto.account, f"Otto's issue {n}", "Low", now
        ).code
        for n in range(2)
    }
    with desk.signed_in(rita) as client:
        assert exported_codes(client) == ritas
    with desk.signed_in(otto) as client:
        assert exported_codes(client) == ottos
    with desk.signed_in(agent) as client:
        assert exported_codes(client) >= ritas | ottos


def test_a_server_started_while_its_database_is_down_answers_503_and_retries(
    tmp_path: Path,
) -> None:
    """The server still starts (the health check answers); a page says the database cannot
    be reached, in a page that asks again by itself, instead of failing to start."""
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2"
    with run_app(
        tmp_path, demo_tickets=0, database_url=unreachable, database_reachable=False
    ) as server:
        with httpx.Client(base_url=server.url, headers=HTML, timeout=30) as client:
            page = client.get("/")
            assert page.status_code == 503
            assert "cannot be reached right now" in page.text
            assert '<meta http-equiv="refresh" content="5">' in page.text
            assert page.headers["retry-after"] == "5"
            assert "nowhere" in page.text and "Traceback" not in page.text
            plain = httpx.get(f"{server.url}/export.csv", timeout=30)
            assert plain.status_code == 503
        assert "cannot be reached right now" in server.log.read_text()
