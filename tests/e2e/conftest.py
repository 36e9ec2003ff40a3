"""End-to-end fixtures: the real app (`streamlit run ticket.py`) on a free port with its own
SQLite file, driven by Debian's Chromium through Playwright.

The app is behind sign-in: every Desk is a person with an account in the app's database (made
through the account services) and, unless a test wants to sign in through the form itself, a
browser context already holding that person's session cookie. The helpers are in
tests/support/app_server.py (the server, its people) and tests/support/browser.py (Chromium,
the page object Desk).

Set TICKETDESK_SKIP_E2E=1 to skip these tests; without it a missing /usr/bin/chromium is a
failure, not a skip, so that CI cannot go green without having run them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, sync_playwright

from tests.support.app_server import STAFF_NAMES, AppServer, run_app
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Desk,
    e2e_skipped,
    new_context,
    sign_in_context,
)
from tests.support.cluster import STICKY_COOKIE, Cluster
from tests.support.proxied import ProxiedDesk
from tests.support.server import log_tail


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, or a skip (TICKETDESK_SKIP_E2E=1), or a clear failure. Checked
    before any server starts."""
    if e2e_skipped():
        pytest.skip("browser tests skipped: TICKETDESK_SKIP_E2E=1")
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests need Chromium at {CHROMIUM}, which is missing. Install it "
            "with scripts/ensure-chromium (or 'sudo apt-get install chromium'), or set "
            "TICKETDESK_SKIP_E2E=1 to skip the browser tests.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def demo_app(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app on a new database seeded with 3 demo tickets, shared by a module's tests.

    Tests using it must only rely on what they do themselves (their own tickets, and changes
    they cause), never on what other tests did before them."""
    with run_app(tmp_path_factory.mktemp("demo_app"), demo_tickets=3) as server:
        yield server


@pytest.fixture
def empty_app(chromium: Path, tmp_path: Path) -> Iterator[AppServer]:
    """The app on a new, empty database (TICKETDESK_DEMO_TICKETS=0), for this test alone, so
    the test knows every ticket in it and can compute the dashboard by hand."""
    with run_app(tmp_path, demo_tickets=0) as server:
        yield server


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember whether a test failed, for the screenshots and logs of `new_desk`."""
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture(scope="module")
def warm_context(browser: Browser) -> Iterator[BrowserContext]:
    """One browser context for a module's first person: its HTTP cache saves reloading
    Streamlit's scripts on every test (a few seconds each). Each test still gets its own page,
    and each page load is a new Streamlit session with its own state."""
    context = new_context(browser)
    yield context
    context.close()


@pytest.fixture
def new_desk(
    browser: Browser, warm_context: BrowserContext, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Desk]]:
    """Factory of Desks: `new_desk(server)` is the test's next person (Ana Ortiz, then Ben
    Castro, ...: agents), signed in on `server`. `name` and `role` choose someone else;
    `signed_in=False` gives a browser without a session (to sign in through the form).

    The first call gives a new tab in the module's warm context (its cookies replaced by
    this person's); later calls give a new browser context each (cookies, storage and cache
    of its own): another person.

    When the test fails, each person's page is saved as a screenshot and the tail of the
    server's log is printed (shown with the failure)."""
    own_contexts: list[BrowserContext] = []
    desks: list[tuple[Desk, AppServer]] = []

    def make(
        server: AppServer,
        name: str | None = None,
        role: str = "agent",
        *,
        signed_in: bool = True,
    ) -> Desk:
        name = name or STAFF_NAMES[len(desks)]
        person = server.person(name, role)
        if desks:
            context = new_context(browser)
            own_contexts.append(context)
        else:
            context = warm_context
            context.clear_cookies()  # the previous test's person, on its server
        if signed_in:
            sign_in_context(context, server.url, server.session_token(person))
        page = context.new_page()
        desk = Desk(page, server.url, request.node.name, person)
        page.on("pageerror", lambda exc: desk.page_errors.append(str(exc)))
        # What the app's Content-Security-Policy refused (Chromium says so on the console):
        # a page error too, so that the tests' `page_errors == []` check the policy as well.
        page.on(
            "console",
            lambda message: (
                desk.page_errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

        def dismiss(dialog: Dialog) -> None:
            desk.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", dismiss)
        desks.append((desk, server))
        return desk

    yield make
    if request.node.stash.get(FAILED, False):
        for number, (desk, server) in enumerate(desks, start=1):
            with contextlib.suppress(Exception):
                desk.screenshot(f"FAILED-person{number}")
            with contextlib.suppress(Exception):
                print(f"--- the grids of person {number}: {desk.grids_report()}")
            print(f"--- {server.log} (person {number}, {desk.page.url}):\n{log_tail(server.log)}")
    for desk, _ in desks:
        desk.page.close()
    for context in own_contexts:
        context.close()


@pytest.fixture
def new_proxied_desk(
    browser: Browser, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Desk]]:
    """Factory of Desks on the deploy/ recipe (tests/support/proxied.py): `new_proxied_desk(
    desk)` is the test's next person (Ana Ortiz, Ben Castro, ...: agents) in a browser context
    of their own that accepts the proxy's self-signed certificate, signed in unless
    `signed_in=False`. `server="app2"` gives the browser the proxy's cookie for that app
    server, as if it had been sent there before: the test chooses who is on which server.

    When the test fails, each person's page is saved as a screenshot and the tail of the
    proxy's log is printed."""
    contexts: list[BrowserContext] = []
    desks: list[Desk] = []
    clusters: list[Cluster] = []

    def make(
        proxied: ProxiedDesk,
        name: str | None = None,
        role: str = "agent",
        *,
        signed_in: bool = True,
        server: str | None = None,
    ) -> Desk:
        name = name or STAFF_NAMES[len(desks)]
        person = proxied.app.person(name, role)
        context = new_context(browser, ignore_https_errors=True)
        contexts.append(context)
        url = proxied.app.url
        if server is not None:
            context.add_cookies([{"name": STICKY_COOKIE, "value": server, "url": url}])
        if signed_in:
            sign_in_context(context, url, proxied.app.session_token(person))
        desk = Desk(context.new_page(), url, request.node.name, person)
        desk.page.on("pageerror", lambda exc: desk.page_errors.append(str(exc)))
        desks.append(desk)
        if proxied.cluster not in clusters:
            clusters.append(proxied.cluster)
        return desk

    yield make
    if request.node.stash.get(FAILED, False):
        for number, desk in enumerate(desks, start=1):
            with contextlib.suppress(Exception):
                desk.screenshot(f"FAILED-person{number}")
        for cluster in clusters:
            for log in [cluster.proxy_log, *(server.log for server in cluster.servers)]:
                print(f"--- {log}:\n{log_tail(log)}")
    for context in contexts:
        context.close()
