"""Sign-in in a real browser: the server refuses every page without a session, the sign-in
form lets people in (and back where they wanted to go), a requester sees only their own
tickets, sign-out and deactivation end a session at once.

All tests share one app on an empty database; each makes the accounts and tickets it needs
(through the services, straight into the app's database) and relies on nothing else."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer, run_app, utc_now
from tests.support.browser import Desk, sign_in_context, wait_until
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service

pytestmark = pytest.mark.e2e

WRONG_CREDENTIALS = "That email and password do not match an active account."
NOT_YOURS = "That ticket does not exist or is not one of yours."
LIVE_SECONDS = 3
SESSION_END_TIMEOUT_MS = 20_000
"""A deactivation must show within this long: the 3 s poll, a rerun, a loaded machine."""


def unique(text: str) -> str:
    return f"{text} [e2e {uuid.uuid4().hex[:8]}]"


@pytest.fixture(scope="module")
def signin_app(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app on an empty database (no demo tickets, hence no accounts until a test makes
    them), polling for changes every 3 s, shared by this module's tests."""
    live = {"TICKETDESK_LIVE_SECONDS": str(LIVE_SECONDS)}
    with run_app(tmp_path_factory.mktemp("signin_app"), 0, extra_env=live) as server:
        yield server


def http_status(url: str, cookie: str | None = None) -> int:
    """The status of a plain GET (no `Accept: text/html`: not a person's browser)."""
    request = urllib.request.Request(url)  # noqa: S310 (a local http URL)
    if cookie is not None:
        request.add_header("Cookie", f"ticketdesk_session={cookie}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_requester_files_a_ticket_and_sees_only_their_own(
    signin_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    server, now = signin_app, utc_now()
    rita = server.person("Rita Rossi", "requester")
    otto = server.person("Otto Berg", "requester")
    ana = server.person("Ana Ortiz", "agent")
    filed_before = ticket_service.create_ticket(
        server.engine, rita.account, unique("Rita's laptop fan is loud"), "Low", now
    )
    ottos = ticket_service.create_ticket(
        server.engine, otto.account, unique("Otto's payslip is not in the portal"), "High", now
    )
    anas = ticket_service.create_ticket(
        server.engine, ana.account, unique("Ana's own keyboard is missing keys"), "Medium", now
    )

    desk = new_desk(server, rita.name, "requester", signed_in=False)
    page = desk.page
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/signin?next=%2F")
    desk.sign_in_with_form()
    expect(page).to_have_url(f"{server.url}/")
    desk.wait_tickets_page()
    desk.expect_signed_in()
    assert desk.session_cookie(), "signing in should have set the session cookie"
    # A requester's sidebar: their tickets and their account, nothing for staff.
    expect(desk.nav_link("My tickets")).to_be_visible()
    expect(desk.nav_link("Your account")).to_be_visible()
    for staff_page in ("Tickets", "Dashboard", "People", "Settings"):
        expect(desk.nav_link(staff_page)).to_have_count(0)

    code = desk.add_ticket(unique("Rita's second monitor flickers"), "Medium")

    # Exactly her own two tickets, newest first: neither Otto's nor Ana's.
    wait_until(desk.ticket_codes, [code, filed_before.code], "the requester's ticket IDs")
    assert desk.ticket_count() == 2
    expect(page.get_by_text("The tickets you filed.")).to_be_visible()
    desk.screenshot("requester-own-tickets")

    # Someone else's ticket by URL: a refusal that does not show the ticket, worded as for
    # a ticket that does not exist (so it does not even confirm that it does).
    for other in (ottos, anas):
        page.goto(f"{server.url}/?ticket={other.code}")
        expect(desk.error_message()).to_contain_text(NOT_YOURS)
        desk.wait_idle()
        expect(page.get_by_role("heading", name=other.code)).to_have_count(0)
        expect(page.get_by_text(other.issue)).to_have_count(0)
        expect(page.get_by_role("button", name="Send")).to_have_count(0)
        desk.expect_no_app_error()
    page.goto(f"{server.url}/?ticket=TICKET-99999")
    expect(desk.error_message()).to_contain_text(NOT_YOURS)
    desk.screenshot("requester-refused-other-ticket")

    # Her own ticket: she may write to it, only as the requester, and change nothing.
    page.goto(f"{server.url}/?ticket={code}")
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    desk.wait_idle()
    kinds = page.get_by_test_id("stButtonGroup")  # the only kind there is: no reply, no note
    expect(kinds).to_have_text(re.compile(r"^Kind\s*Requester's message$"))
    expect(page.get_by_role("combobox", name="Assignee")).to_have_count(0)
    page.get_by_label("Message", exact=True).fill("It flickers more in the afternoon.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Requester's message added.")).to_be_visible()
    desk.wait_idle()
    expect(
        page.get_by_test_id("stText").filter(has_text=f"{rita.name} (requester) wrote")
    ).to_have_count(1)
    desk.screenshot("requester-own-ticket")
    assert desk.page_errors == []


def test_agent_signs_in_and_sees_every_ticket(
    signin_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    server = signin_app
    ben = server.person("Ben Castro", "agent")
    someone = server.person("Sam Patel", "requester")
    ticket_service.create_ticket(
        server.engine, someone.account, unique("Sam cannot print to A3"), "Low", utc_now()
    )
    every = [
        t.code for t in ticket_service.list_tickets(server.engine, ben.account)
    ]  # newest first

    desk = new_desk(server, ben.name, signed_in=False)
    desk.page.goto(f"{server.url}/")
    expect(desk.page).to_have_url(f"{server.url}/signin?next=%2F")
    desk.sign_in_with_form()
    expect(desk.page).to_have_url(f"{server.url}/")
    desk.wait_tickets_page()
    desk.expect_signed_in()

    assert desk.ticket_count() == len(every)
    wait_until(desk.ticket_codes, every, "the agent's ticket IDs")
    expect(desk.nav_link("Tickets")).to_be_visible()
    expect(desk.nav_link("Dashboard")).to_be_visible()
    for admin_page in ("People", "Settings"):
        expect(desk.nav_link(admin_page)).to_have_count(0)
    desk.screenshot("agent-every-ticket")
    assert desk.page_errors == []


def test_a_wrong_password_is_refused_with_a_clear_message(
    signin_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    server = signin_app
    desk = new_desk(server, "Cleo Park", signed_in=False)
    page = desk.page
    desk.load_signin()

    desk.sign_in_with_form(password="not Cleo's password at all")

    expect(page).to_have_url(desk.signin_url())
    expect(desk.signin_error()).to_have_text(WRONG_CREDENTIALS)
    expect(page.locator("#email")).to_have_value(desk.person.email)  # kept, to correct
    expect(page.locator("#password")).to_have_value("")
    assert desk.session_cookie() is None
    desk.screenshot("wrong-password")
    assert http_status(f"{server.url}/") == 401  # still nobody, as far as the server knows

    # An unknown email gets the very same answer: the page does not tell who has an account.
    desk.sign_in_with_form(email="nobody@e2e.example.com", password="whatever password")
    expect(desk.signin_error()).to_have_text(WRONG_CREDENTIALS)
    assert desk.session_cookie() is None

    # The right password still works.
    desk.sign_in_with_form()
    expect(page).to_have_url(f"{server.url}/")
    desk.wait_tickets_page()
    desk.expect_signed_in()


def test_without_a_session_you_sign_in_and_land_where_you_wanted(
    signin_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    server = signin_app
    # Not a browser: a plain 401, never a page.
    assert http_status(f"{server.url}/") == 401
    assert http_status(f"{server.url}/dashboard") == 401
    assert http_status(f"{server.url}/export.csv") == 401

    desk = new_desk(server, "Ana Ortiz", signed_in=False)
    page = desk.page
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/signin?next=%2F")
    expect(page.locator("#email")).to_be_visible()
    expect(page.get_by_test_id("stApp")).to_have_count(0)  # no Streamlit page at all

    page.goto(f"{server.url}/dashboard")
    expect(page).to_have_url(f"{server.url}/signin?next=%2Fdashboard")
    desk.screenshot("signin-form")
    desk.sign_in_with_form()

    expect(page).to_have_url(f"{server.url}/dashboard")
    desk.wait_dashboard()
    desk.expect_signed_in()
    desk.screenshot("landed-on-dashboard")
    assert http_status(f"{server.url}/_stcore/health") == 200  # open to load balancers


def test_sign_out_ends_the_session_everywhere(
    signin_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    server = signin_app
    desk = new_desk(server, "Dev Rao")  # signed in (session cookie)
    desk.load_tickets()
    desk.expect_signed_in()
    old_cookie = desk.session_cookie()
    assert old_cookie
    assert http_status(f"{server.url}/", cookie=old_cookie) == 200

    desk.sign_out()

    expect(desk.page).to_have_url(f"{server.url}/signin?signed_out=1")
    expect(desk.signin_notice()).to_have_text("You are signed out.")
    assert desk.session_cookie() is None
    desk.screenshot("signed-out")

    # The old cookie is dead on the server, not merely gone from this browser.
    assert http_status(f"{server.url}/", cookie=old_cookie) == 401
    other = new_desk(server, "Dev Rao", signed_in=False)
    sign_in_context(other.page.context, server.url, old_cookie)
    other.page.goto(f"{server.url}/")
    expect(other.page).to_have_url(f"{server.url}/signin?next=%2F")
    expect(other.page.locator("#email")).to_be_visible()
    assert other.session_cookie() is None  # the sign-in page dropped the stale cookie


def test_a_deactivated_agent_s_open_page_ends_without_a_reload(
    signin_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    server = signin_app
    eli = server.person("Eli Moreau", "agent")
    desk = new_desk(server, eli.name)
    desk.load_tickets()
    desk.expect_signed_in()
    admin = new_desk(server, "Ada Novak", "admin")
    admin.load_tickets()
    admin.expect_signed_in()
    for admin_page in ("Tickets", "Dashboard", "People", "Settings"):
        expect(admin.nav_link(admin_page)).to_be_visible()
    desk.js("window.__e2eSamePage = true")  # gone if the page were reloaded

    account_service.set_active(server.engine, admin.person.account, eli.account.id, False)
    deactivated_at = time.monotonic()

    ended = desk.page.get_by_test_id("stAlertContentWarning").filter(
        has_text="Your session has ended"
    )
    expect(ended).to_be_visible(timeout=SESSION_END_TIMEOUT_MS)
    print(f"the session-ended message showed {time.monotonic() - deactivated_at:.1f} s after")
    assert desk.js("window.__e2eSamePage") is True, "the page should not have been reloaded"
    desk.wait_idle()
    expect(desk.page.get_by_role("heading", name="Support tickets")).to_have_count(0)
    expect(desk.grid()).to_have_count(0)
    expect(desk.identity()).to_have_count(0)
    sign_in_again = desk.page.get_by_role("link", name="Sign in")
    expect(sign_in_again).to_have_attribute("href", "/signin?ended=1")
    desk.screenshot("session-ended")

    # The sign-in page says why; the deactivated account cannot sign in again.
    desk.page.goto(f"{server.url}/signin?ended=1")
    expect(desk.signin_notice()).to_have_text("Your session has ended. Please sign in again.")
    desk.sign_in_with_form()
    expect(desk.signin_error()).to_have_text(WRONG_CREDENTIALS)
    assert desk.session_cookie() is None
    # The admin's own page carries on.
    admin.reload()
    admin.expect_signed_in()
    assert desk.page_errors == admin.page_errors == []


def test_reactivated_account_signs_in_again(
    signin_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    """Deactivation is not deletion: once active again, the same password works."""
    server = signin_app
    fay = server.person("Fay Lund", "agent")
    ada = server.person("Ada Novak", "admin")
    account_service.set_active(server.engine, ada.account, fay.account.id, False)
    desk = new_desk(server, fay.name, signed_in=False)
    desk.load_signin()
    desk.sign_in_with_form()
    expect(desk.signin_error()).to_have_text(WRONG_CREDENTIALS)

    account_service.set_active(server.engine, ada.account, fay.account.id, True)
    desk.sign_in_with_form()
    expect(desk.page).to_have_url(f"{server.url}/")
    desk.wait_tickets_page()
    desk.expect_signed_in()
