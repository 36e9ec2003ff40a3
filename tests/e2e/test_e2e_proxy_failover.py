"""The deploy/ recipe when an app server dies (SIGKILL, no goodbye): its people's open pages
carry on through the other server, still signed in (sessions live in the database), nothing
they saved is lost, and new people are sent to the server that is left. A cluster of its own:
the other proxy tests keep both servers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, expect

from tests.support.browser import Desk, wait_until
from tests.support.cluster import STICKY_COOKIE
from tests.support.proxied import ProxiedDesk, run_proxied

pytestmark = pytest.mark.e2e
LIVE_TIMEOUT_MS = 12_000
"""A change must show within this long: the 1 s poll, a rerun, and a loaded machine."""
FAILOVER_TIMEOUT_MS = 30_000
"""The proxy's health checks mark a dead server down within about 4 s (2 checks 2 s apart);
the page's own reconnection backs off a little on top of that."""


def row_with(desk: Desk, code: str) -> Locator:
    return desk.grid().locator("td").filter(has_text=re.compile(rf"^{code}$"))


def sticky_server(desk: Desk) -> str:
    cookies = desk.page.context.cookies(desk.base_url)
    return next(str(c["value"]) for c in cookies if c["name"] == STICKY_COOKIE)


def test_when_a_server_dies_its_people_carry_on_through_the_other(
    chromium: Path, tmp_path: Path, new_proxied_desk: Callable[..., Desk]
) -> None:
    with run_proxied(tmp_path) as proxied:
        run(proxied, new_proxied_desk)


def run(proxied: ProxiedDesk, new_proxied_desk: Callable[..., Desk]) -> None:
    cluster = proxied.cluster
    dying, staying = cluster.names
    ana = new_proxied_desk(proxied, server=dying)
    ben = new_proxied_desk(proxied, server=staying)
    ana.load_tickets()
    ben.load_tickets()
    code = ana.add_ticket("Badge reader at the side door is dead", "High")
    expect(row_with(ben, code)).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    token = ana.session_cookie()
    assert {route.server for route in cluster.routes(token)} == {dying}

    cluster.crash(dying)
    # Ana's open page loses its WebSocket, reconnects through the proxy to the other server
    # (a new Streamlit session there: the old one died with its server) and draws the desk
    # again, signed in as before.
    wait_until(
        lambda: (staying, "/_stcore/stream") in {(r.server, r.uri) for r in cluster.routes(token)},
        True,
        "Ana's page reconnected to the server that is left",
        FAILOVER_TIMEOUT_MS,
    )
    expect(row_with(ana, code)).to_have_count(1, timeout=FAILOVER_TIMEOUT_MS)
    ana.expect_signed_in()
    ana.screenshot("page-back-after-its-server-died")
    assert sticky_server(ana) == staying  # the proxy moved her browser over for good
    ana.reload()
    ana.expect_signed_in()
    expect(row_with(ana, code)).to_have_count(1)

    cleo = new_proxied_desk(proxied, signed_in=False)  # someone new signs in
    cleo.page.goto(f"{cleo.base_url}/")
    expect(cleo.page).to_have_url(cleo.signin_url())
    cleo.sign_in_with_form()
    cleo.wait_tickets_page()
    cleo.expect_signed_in()
    expect(row_with(cleo, code)).to_have_count(1)
    assert sticky_server(cleo) == staying
    assert {route.server for route in cluster.routes(cleo.session_cookie())} == {staying}

    later = ana.add_ticket("Side door badge reader: the spare one works", "Medium")
    expect(row_with(ben, later)).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    ben.screenshot("the-other-server-carries-on")
    assert ana.page_errors == ben.page_errors == cleo.page_errors == []
