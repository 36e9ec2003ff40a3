"""The deploy/ recipe in Chromium: two app servers on one PostgreSQL behind HAProxy with
deploy/haproxy.cfg, over https. A person signs in through the proxy and works there: every
request of their session, the WebSocket and the upload included, goes to one app server (the
upload only works there: Streamlit keeps it in that server's memory); a change made through
one server shows on a page held by the other. (A server that dies: test_e2e_proxy_failover.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, expect

from tests.support.browser import Desk, wait_until
from tests.support.cluster import STICKY_COOKIE
from tests.support.images import tiny_png
from tests.support.proxied import ProxiedDesk, run_proxied
from ticketdesk.web.engine import SESSION_COOKIE

pytestmark = pytest.mark.e2e
LIVE_TIMEOUT_MS = 12_000
"""A change must show within this long: the 1 s poll, a rerun, and a loaded machine."""


@pytest.fixture(scope="module")
def proxied(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedDesk]:
    with run_proxied(tmp_path_factory.mktemp("proxy_e2e")) as running:
        yield running


def cookie(desk: Desk, name: str) -> dict[str, object]:
    found = [c for c in desk.page.context.cookies(desk.base_url) if c["name"] == name]
    assert len(found) == 1, f"{name}: {found}"
    return dict(found[0])


def servers_of(proxied: ProxiedDesk, desk: Desk) -> set[str]:
    """The app servers the proxy sent this person's signed-in requests to."""
    return {route.server for route in proxied.cluster.routes(desk.session_cookie())}


def test_a_person_signs_in_and_works_through_the_proxy_on_one_server(
    proxied: ProxiedDesk, new_proxied_desk: Callable[..., Desk]
) -> None:
    ana = new_proxied_desk(proxied, signed_in=False)
    page = ana.page
    page.goto(f"{ana.base_url}/")
    expect(page).to_have_url(ana.signin_url())
    ana.sign_in_with_form()
    ana.wait_tickets_page()
    ana.expect_signed_in()
    assert cookie(ana, SESSION_COOKIE)["secure"] is True  # https as the proxy told the app
    code = ana.add_ticket("Printer on floor 3 jams on every job", "Medium")

    page.goto(f"{ana.base_url}/?ticket={code}")
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    ana.wait_idle()
    png = tiny_png()
    page.get_by_label("Message", exact=True).fill("The jam, photographed")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        [FilePayload(name="jam.png", mimeType="image/png", buffer=png)]
    )
    expect(page.get_by_text("jam.png").first).to_be_visible()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Public reply added.")).to_be_visible()
    ana.wait_idle()
    thumbnail = page.locator("img[src*='/files/']")
    expect(thumbnail).to_have_count(1)
    # Loaded and decoded through the proxy (the request may be answered before it is drawn).
    wait_until(
        lambda: thumbnail.evaluate("img => img.complete && img.naturalWidth"), 2, "the thumbnail"
    )
    with page.expect_download() as download:
        page.get_by_role("link", name="jam.png").click(modifiers=["Alt"])
    assert download.value.path().read_bytes() == png
    ana.screenshot("reply-with-upload-through-the-proxy")

    routes = proxied.cluster.routes(ana.session_cookie())
    served = {route.server for route in routes}
    assert served == {cookie(ana, STICKY_COOKIE)["value"]}, routes
    paths = [route.uri for route in routes]
    assert "/_stcore/stream" in paths
    assert any(path.startswith("/_stcore/upload_file/") for path in paths)
    assert any(path.startswith("/files/") for path in paths)
    assert ana.page_errors == []


def test_a_change_through_one_server_shows_on_a_page_of_the_other(
    proxied: ProxiedDesk, new_proxied_desk: Callable[..., Desk]
) -> None:
    one, two = proxied.cluster.names
    ana = new_proxied_desk(proxied, server=one)
    ben = new_proxied_desk(proxied, server=two)
    ana.load_tickets()
    ben.load_tickets()
    code = ana.add_ticket("VPN drops every hour for the Lisbon office", "Medium")
    expect(ben.grid().locator("td").filter(has_text=re.compile(rf"^{code}$"))).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS
    )
    ben.reload()  # seen live above; a fresh page for the edit helpers' header map
    ben.edit_choice(code, "Priority", "High")
    expect(ana.cell("Priority", ana.row_of(code))).to_have_text("High", timeout=LIVE_TIMEOUT_MS)
    ana.screenshot("server-1-sees-server-2")
    assert servers_of(proxied, ana) == {one}
    assert servers_of(proxied, ben) == {two}
    assert ana.page_errors == ben.page_errors == []
