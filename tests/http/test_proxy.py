"""The deploy/ recipe over HTTP: two app servers on one PostgreSQL behind HAProxy with
deploy/haproxy.cfg, over https (tests/support/cluster.py). What the app needs from its proxy:
the session cookie is Secure although the app itself speaks plain HTTP (X-Forwarded-Proto),
the origin checks accept the desk's own pages through the proxy and refuse others, sign-in
throttling counts the client's address, not the proxy's (X-Forwarded-For, which a client
cannot forge), and a client that keeps the proxy's cookie stays on one server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.support.cluster import (
    HAPROXY,
    ROUTE_HEADER,
    SHIPPED_CONFIG,
    STICKY_COOKIE,
    haproxy_missing,
    self_signed_pem,
)
from tests.support.proxied import ProxiedDesk, run_proxied
from tests.support.signin import CSRF_COOKIE, HTML, Person, add_person, set_cookies
from ticketdesk.domain.accounts import email_key
from ticketdesk.store.db import read
from ticketdesk.store.schema import signin_failures
from ticketdesk.web.engine import SESSION_COOKIE

pytestmark = pytest.mark.http


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedDesk]:
    with run_proxied(tmp_path_factory.mktemp("proxy_http")) as running:
        yield running


def client(desk: ProxiedDesk, address: str | None = None) -> httpx.Client:
    """A client of the proxy that keeps cookies as a browser does and trusts the proxy's
    certificate; `address`: the local address it connects from."""
    trusted = desk.cluster.ssl_context() or True
    transport = httpx.HTTPTransport(verify=trusted, local_address=address)
    return httpx.Client(base_url=desk.cluster.url, headers=HTML, timeout=20, transport=transport)


def sign_in(browser: httpx.Client, person: Person, origin: str | None = None) -> httpx.Response:
    page = browser.get("/signin")
    assert page.status_code == 200, page.text
    form = {
        "email": person.email,
        "password": person.password or "",
        "csrf": set_cookies(page)[CSRF_COOKIE].value,
        "next": "/",
    }
    headers = {"Origin": origin} if origin else {}
    return browser.post("/signin", data=form, headers=headers)


def test_the_shipped_configuration_is_valid(tmp_path: Path) -> None:
    """deploy/haproxy.cfg as it is, but for the certificate's path (the site's own)."""
    if why := haproxy_missing():
        pytest.skip(why)
    _, pem = self_signed_pem(tmp_path)
    config = tmp_path / "haproxy.cfg"
    config.write_text(SHIPPED_CONFIG.read_text().replace("/etc/haproxy/certs/desk.pem", str(pem)))
    checked = subprocess.run(
        [str(HAPROXY), "-c", "-f", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration file is valid" in checked.stdout


def test_signing_in_through_the_proxy_gives_secure_cookies(desk: ProxiedDesk) -> None:
    """The app sees plain HTTP from the proxy, without TICKETDESK_SECURE_COOKIES: the Secure
    flag comes from the proxy's X-Forwarded-Proto alone."""
    ana = add_person(desk.app.engine, "agent")
    with client(desk) as browser:
        signed_in = sign_in(browser, ana, origin=desk.cluster.url)
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/"
        session = set_cookies(signed_in)[SESSION_COOKIE]
        assert session["secure"] is True
        assert session["httponly"] is True
        assert browser.cookies[STICKY_COOKIE] in desk.cluster.names
        page = browser.get("/")
        assert page.status_code == 200
        assert "<noscript>" in page.text  # Streamlit's page, not the sign-in page
    with client(desk) as fresh:
        sticky = set_cookies(fresh.get("/signin"))[STICKY_COOKIE]
        assert sticky["secure"] is True
        assert sticky["httponly"] is True
        assert sticky["samesite"] == "Lax"


def test_the_origin_check_accepts_the_desk_and_refuses_other_sites(desk: ProxiedDesk) -> None:
    """The proxy passes the Host header on, so the desk's own origin is this site's."""
    ben = add_person(desk.app.engine, "agent")
    with client(desk) as browser:
        refused = sign_in(browser, ben, origin="https://evil.example")
        assert refused.status_code == 403
        assert SESSION_COOKIE not in browser.cookies
        accepted = sign_in(browser, ben, origin=desk.cluster.url)
        assert accepted.status_code == 303


def test_throttling_counts_the_clients_address_not_the_proxys(desk: ProxiedDesk) -> None:
    """A failed sign-in from 127.0.0.9 is counted for 127.0.0.9 (the proxy connects to the
    app from 127.0.0.1), and an X-Forwarded-For the client sends itself changes nothing."""
    cleo = add_person(desk.app.engine, "agent")
    wrong = Person(cleo.account, cleo.email, "not the password at all")
    with client(desk, address="127.0.0.9") as browser:
        browser.headers["X-Forwarded-For"] = "203.0.113.7"
        assert sign_in(browser, wrong).status_code == 401
    addresses = read(
        desk.app.engine,
        lambda conn: list(
            conn.scalars(
                select(signin_failures.c.address).where(
                    signin_failures.c.email_key == email_key(cleo.email)
                )
            )
        ),
    )
    assert addresses == ["127.0.0.9"]


def test_a_client_keeping_the_proxys_cookie_stays_on_one_server(desk: ProxiedDesk) -> None:
    names = desk.cluster.names
    for name in names:
        with client(desk) as browser:
            browser.cookies.set(STICKY_COOKIE, name)
            served = {browser.get("/signin").headers[ROUTE_HEADER] for _ in range(6)}
            assert served == {name}
    seen = []
    for _ in range(2 * len(names)):  # new browsers, one after the other: spread over all
        with client(desk) as browser:
            first = browser.get("/signin")
            seen.append(first.headers[ROUTE_HEADER])
            assert browser.cookies[STICKY_COOKIE] == seen[-1]
            assert {browser.get("/signin").headers[ROUTE_HEADER] for _ in range(3)} == {seen[-1]}
    assert sorted(set(seen)) == names
