"""The browser side of the end-to-end tests (tests/e2e/): Debian's Chromium driven by
Playwright, browser contexts holding a person's session cookie, and the page object `Desk`: one
person's tab on the Ticket desk with what the tests do there (the fixtures over these are in
tests/e2e/conftest.py)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from tests.support import server
from tests.support.app_server import ARTIFACTS, Person
from ticketdesk.web.engine import SESSION_COOKIE

CHROMIUM = Path(server.CHROMIUM)
CHROMIUM_ARGS = server.CHROMIUM_ARGS
UI_TIMEOUT_MS = 30_000
"""Upper bound for any single UI expectation. They normally hold within a second; a page load
takes 2 s on a quiet machine and up to about 11 s was seen on a heavily loaded one."""
VIEWPORT: ViewportSize = {"width": 1400, "height": 2300}
"""Tall enough that screenshots show the whole Tickets page and both dashboard charts
(Streamlit scrolls an inner container, so full-page screenshots do not help)."""

GRID_HEADER_PX = 35
GRID_ROW_PX = 35

expect.set_options(timeout=UI_TIMEOUT_MS)

T = TypeVar("T")


def e2e_skipped() -> bool:
    return os.environ.get("TICKETDESK_SKIP_E2E", "").strip() == "1"


def new_context(browser: Browser, *, ignore_https_errors: bool = False) -> BrowserContext:
    """A new browser context (cookies, storage and cache of its own) as the tests use them.
    `ignore_https_errors`: for a server with a self-signed certificate (the proxy's)."""
    context = browser.new_context(
        viewport=VIEWPORT,
        timezone_id="UTC",
        locale="en-GB",
        ignore_https_errors=ignore_https_errors,
    )
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context


def sign_in_context(context: BrowserContext, base_url: str, token: str) -> None:
    """Give `context` the session cookie of `token` for the app at `base_url` (cookies are
    per host, not per port: this replaces any session cookie set for another test's app)."""
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base_url}])


# --------------------------------------------------------------------------- the page object


def wait_until(read: Callable[[], T], expected: T, what: str, timeout_ms: int = UI_TIMEOUT_MS) -> T:
    """Poll `read()` until it returns `expected`; fail with the last value read otherwise.

    For values that are computed from many elements at once (chart marks), where a single
    `expect(locator)` does not fit."""
    deadline = time.monotonic() + timeout_ms / 1000
    value = read()
    while value != expected:
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what}: expected {expected!r}, still {value!r} after {timeout_ms} ms",
                pytrace=False,
            )
        time.sleep(0.1)  # polling interval
        value = read()
    return value


def parse_mark_label(label: str) -> dict[str, str]:
    """Vega's ARIA description of a mark, e.g. "Month submitted: 2026-11; Tickets: 3;
    Status: Open; Month: 2026-11", as a dict."""
    fields: dict[str, str] = {}
    for part in label.split("; "):
        key, _, value = part.partition(": ")
        fields[key] = value
    return fields


class Desk:
    """One person's browser tab on the Ticket desk, with the few things the tests do there."""

    def __init__(self, page: Page, base_url: str, test_name: str, person: Person) -> None:
        self.page = page
        self.base_url = base_url
        self.person = person
        self.test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        self._columns: list[str] | None = None

    # -- navigation and synchronisation

    def wait_idle(self) -> None:
        """Wait until the script run in progress (if any) has finished."""
        expect(self.page.get_by_test_id("stApp")).to_have_attribute(
            "data-test-script-state", "notRunning"
        )

    def load_tickets(self) -> None:
        self.page.goto(f"{self.base_url}/")
        self.wait_tickets_page()

    def go_to_tickets(self) -> None:
        """Go to the Tickets page ("My tickets" for a requester) through the sidebar (no page
        load: a new script run)."""
        title = "Tickets" if self.person.is_staff else "My tickets"
        self.nav_link(title).click()
        expect(self.page).to_have_url(f"{self.base_url}/")
        self.wait_tickets_page()

    def reload(self) -> None:
        self.page.reload()
        self.wait_tickets_page()

    def wait_tickets_page(self) -> None:
        title = "Support tickets" if self.person.is_staff else "My tickets"
        expect(self.page.get_by_role("heading", name=title)).to_be_visible()
        expect(self.ticket_count_text()).to_be_visible()
        expect(self.grid().locator("canvas").first).to_be_visible()
        # The grid's accessible table (read by the tests) is filled in a moment later.
        expect(self.grid().locator('th[role="columnheader"]').first).to_have_text("ID")
        if self.ticket_count():
            expect(self.cell("ID", 0)).to_have_text(re.compile(r"^TICKET-\d+$"))
        self.wait_idle()
        self.expect_no_app_error()

    def go_to_dashboard(self) -> None:
        """Go to the Dashboard through the sidebar, as a person would."""
        self.nav_link("Dashboard").click()
        expect(self.page).to_have_url(re.compile(r"/dashboard$"))
        self.wait_dashboard()

    def load_dashboard(self) -> None:
        self.page.goto(f"{self.base_url}/dashboard")
        self.wait_dashboard()

    def wait_dashboard(self) -> None:
        expect(self.page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(self.page.get_by_role("group", name="Number of open tickets")).to_be_visible()
        self.wait_idle()
        self.expect_no_app_error()
        expect(
            self.page.get_by_role("heading", name="Priorities and open tickets by assignee")
        ).to_be_visible()

    def expect_no_app_error(self) -> None:
        """No uncaught exception in the script run shown (Streamlit draws it in place of the
        rest of the page, details only in the server's log)."""
        expect(
            self.page.get_by_test_id("stException"),
            f"the app failed on {self.page.url} for {self.person.name} "
            f"({self.person.account.role}); see the server log",
        ).to_have_count(0)

    def nav_link(self, title: str) -> Locator:
        """The sidebar's link to page `title` (exactly)."""
        return self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True)

    def screenshot(self, moment: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}--{moment}.png"
        self.page.screenshot(path=str(path))
        return path

    # -- signing in and out

    def signin_url(self) -> re.Pattern[str]:
        return re.compile(rf"^{re.escape(self.base_url)}/signin(\?|$)")

    def load_signin(self) -> None:
        self.page.goto(f"{self.base_url}/signin")
        expect(self.page.locator("#email")).to_be_visible()

    def sign_in_with_form(self, email: str | None = None, password: str | None = None) -> None:
        """Fill in and send the sign-in page's form (this Desk's person by default); the page
        must be showing it. Returns once the browser has the answer's page."""
        expect(self.page, "the sign-in form should be showing").to_have_url(self.signin_url())
        self.page.locator("#email").fill(self.person.email if email is None else email)
        self.page.locator("#password").fill(self.person.password if password is None else password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign in", exact=True).click()

    def signin_error(self) -> Locator:
        return self.page.locator("p.error")

    def signin_notice(self) -> Locator:
        return self.page.locator("p.notice")

    def session_cookie(self) -> str | None:
        cookies = self.page.context.cookies(self.base_url)
        return next((c["value"] for c in cookies if c["name"] == SESSION_COOKIE), None)

    def identity(self) -> Locator:
        """The sidebar's "Signed in as **Name**" and role."""
        return (
            self.page.get_by_test_id("stSidebar")
            .get_by_test_id("stMarkdown")
            .filter(has_text="Signed in as")
        )

    def expect_signed_in(self) -> None:
        expect(self.identity()).to_contain_text(f"Signed in as {self.person.name}")
        expect(self.identity()).to_contain_text(self.person.account.role.value)

    def sign_out(self) -> None:
        """The sidebar's Sign out button; returns on the sign-in page it leads to."""
        button = self.page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
        with self.page.expect_navigation():
            button.click()
        expect(self.page).to_have_url(self.signin_url())

    # -- the form

    def ticket_count_text(self) -> Locator:
        return self.page.get_by_test_id("stMarkdown").filter(has_text="Number of tickets:")

    def ticket_count(self) -> int:
        text = self.ticket_count_text().inner_text()
        match = re.search(r"Number of tickets:\s*([\d,]+)", text)
        assert match, f"cannot read the number of tickets from {text!r}"
        return int(match.group(1).replace(",", ""))

    def form(self) -> Locator:
        """The new-ticket form, in the "New ticket" popover; the popover is opened first when
        the form is not showing (the page must be idle)."""
        form = self.page.get_by_test_id("stForm").filter(
            has=self.page.get_by_role("textbox", name="Describe the issue")
        )
        if form.count() == 0:
            self.page.get_by_role("button", name="New ticket").click()
        expect(form).to_be_visible()
        return form

    def issue_box(self) -> Locator:
        return self.form().get_by_role("textbox", name="Describe the issue")

    def success_message(self) -> Locator:
        return self.page.get_by_test_id("stAlertContentSuccess")

    def error_message(self) -> Locator:
        return self.page.get_by_test_id("stAlertContentError")

    def choose_priority(self, priority: str) -> None:
        box = self.form().get_by_role("combobox", name="Priority")
        box.click()
        self.page.get_by_role("option", name=priority, exact=True).click()
        expect(box).to_have_value(priority)

    def submit(self, issue: str, priority: str | None = None) -> str | None:
        """Fill in and submit the new-ticket form (opening its popover first if needed);
        returns once the run it caused has finished, with the TICKET-<n> code of the new
        ticket, or None if it was refused (the form then stays open, with the message).

        That run is recognised by its outcome, a success message naming a new code or an
        error message (the app also reruns by itself every few seconds to follow other
        people's changes, so "a run happened" proves nothing). Hence an error message must
        not be showing already."""
        expect(
            self.error_message(), "submit() cannot tell a new refusal from an earlier one"
        ).to_have_count(0)
        shown_before = self._success_code()
        self.issue_box().fill(issue)
        if priority is not None:
            self.choose_priority(priority)
        self.form().get_by_role("button", name="Submit").click()
        success = self.success_message()
        if shown_before:
            success = success.filter(has_not_text=re.compile(rf"\b{shown_before}\b"))
        expect(success.or_(self.error_message()).first).to_be_visible()
        self.wait_idle()
        return self._success_code()

    def _success_code(self) -> str | None:
        texts = self.success_message().all_inner_texts()
        if not texts:
            return None
        match = re.search(r"Ticket (TICKET-\d+) submitted", texts[0])
        assert match, f"unexpected success message {texts[0]!r}"
        return match.group(1)

    def add_ticket(self, issue: str, priority: str | None = None) -> str:
        """Submit a ticket that must be accepted; returns its TICKET-<n> code."""
        code = self.submit(issue, priority)
        expect(self.error_message()).to_have_count(0)
        assert code, "the ticket was not accepted"
        return code

    # -- the grid

    def tables(self) -> Locator:
        """The dataframes on screen. Streamlit 1.67 may keep a replaced widget mounted but
        hidden after it (its "retained" elements, `data-retained`): a grid of other tickets
        or of another row count is a new widget, and the old grid stayed hidden in the page
        after a fragment run, sometimes until the next full run. A person never sees it, so
        neither do the tests."""
        return self.page.get_by_test_id("stDataFrame").filter(visible=True)

    def grid(self) -> Locator:
        """The editable ticket grid: the last dataframe on screen (the one-row table of a
        newly submitted ticket, when shown, comes before it)."""
        return self.tables().last

    def grid_headers(self) -> list[str]:
        """The grid's column headers, once drawn (a live redraw may have just replaced the
        grid: its accessible header row comes a moment after the canvas)."""
        headers = self.grid().locator('th[role="columnheader"]')
        expect(headers.first).to_have_text("ID")
        return headers.all_inner_texts()

    def column_index(self, column: str) -> int:
        """The `<col>` of `column`'s accessible cells `glide-cell-<col>-<row>`: its header's
        position in the grid (hide_index=True, so no index column comes first)."""
        if not self._columns:  # an empty grid may not have drawn its header row yet
            self._columns = self.grid_headers()
        assert column in self._columns, f"no column {column!r} in {self._columns}"
        return self._columns.index(column)

    def cell(self, column: str, row: int, table: Locator | None = None) -> Locator:
        """The accessible cell of `column` (a header's text) in grid row `row`."""
        col = self.column_index(column)
        return (table or self.grid()).locator(f"#glide-cell-{col}-{row}")

    def row_of(self, code: str) -> int:
        """The grid row showing ticket `code` (read from the accessible ID cells)."""
        ids = self.grid().locator('td[id^="glide-cell-0-"]')
        expect(
            ids.filter(has_text=re.compile(rf"^{code}$")),
            f"{code} should be in the ticket grid exactly once",
        ).to_have_count(1)
        cells: list[tuple[str, str]] = ids.evaluate_all(
            "cells => cells.map(c => [c.id, c.textContent])"
        )
        for cell_id, text in cells:
            if text == code:
                return int(cell_id.rsplit("-", 1)[1])
        raise AssertionError(f"{code} is not in the grid")

    def grids_report(self) -> list[dict[str, Any]]:
        """Every dataframe in the page, shown or not, for a failure's report: Streamlit's
        marks on its element (stale, retained), whether it is on screen, its canvas's size
        and the IDs in its accessible table."""
        report: list[dict[str, Any]] = self.page.get_by_test_id("stDataFrame").evaluate_all(
            """frames => frames.map(f => {
                const box = f.closest('[data-testid="stElementContainer"]');
                const canvas = f.querySelector('canvas');
                return {
                    stale: box && box.getAttribute('data-stale'),
                    retained: box && box.hasAttribute('data-retained'),
                    shown: f.getClientRects().length > 0,
                    canvas: canvas && [canvas.clientWidth, canvas.clientHeight],
                    ids: [...f.querySelectorAll('td[id^="glide-cell-0-"]')]
                        .map(c => c.textContent),
                };
            })"""
        )
        return report

    def ticket_codes(self) -> list[str]:
        """The TICKET-<n> codes the grid shows, top to bottom (fine for a page of up to 50
        rows, which the grid's height shows in full)."""
        return self.grid().locator('td[id^="glide-cell-0-"]').all_inner_texts()

    def row_values(self, row: int) -> dict[str, str]:
        return {column: self.cell(column, row).inner_text() for column in self.grid_headers()}

    def select_cell(self, column: str, row: int) -> None:
        """Put the grid's cursor on a cell: click the first row's ID cell (read-only) on the
        canvas, then move with the arrow keys, checking the selection in the accessible table.
        """
        first = self.cell("ID", 0)
        canvas = self.grid().locator("canvas").first
        canvas.scroll_into_view_if_needed()
        for attempt in range(3):
            box = canvas.bounding_box()
            assert box is not None, "the grid's canvas is not displayed"
            # Glide's scroller lies over the canvas, so click at page coordinates.
            self.page.mouse.click(box["x"] + 10, box["y"] + GRID_HEADER_PX + GRID_ROW_PX // 2)
            try:
                expect(first).to_have_attribute("aria-selected", "true", timeout=3000)
                break
            except AssertionError:
                # A click while the grid is still being (re)built can be lost; try again.
                if attempt == 2:
                    raise
        for _ in range(row):
            self.page.keyboard.press("ArrowDown")
        for _ in range(self.column_index(column)):
            self.page.keyboard.press("ArrowRight")
        expect(self.cell(column, row)).to_have_attribute("aria-selected", "true")

    def edit_choice(self, code: str, column: str, value: str, screenshot: str = "") -> None:
        """Change a select-box cell of ticket `code` to `value`, as a person does: select the
        cell, Enter opens the editor, click the option. Returns once the app has saved it (its
        "<code> saved: <column> <value>" toast) and is idle again."""
        row = self.row_of(code)
        # A toast of the next run takes the place of one still shown, so the count of toasts
        # saying exactly this (value included) is what proves a new save.
        saved = self.toast(f"{code} saved: {column} {value}")
        saved_before = saved.count()
        self.select_cell(column, row)
        self.page.keyboard.press("Enter")
        option = self.page.locator("#portal").get_by_role("option", name=value, exact=True)
        expect(option).to_be_visible()
        if screenshot:
            self.screenshot(screenshot)
        option.click()
        try:
            expect(option).to_be_hidden(timeout=3000)
        except AssertionError:
            # Known glide/Streamlit flake (about 1 edit in 10 here): the option menu is
            # re-rendered between mousedown and mouseup, so no click event reaches it and the
            # menu stays open. A person would click again; so do we, once.
            option.click()
        # The run that saved the edit shows the toast; a save keeps the grid as it is (its
        # edit is what the database now holds), so there is no redraw to wait for.
        expect(saved, f"{code} should be saved").to_have_count(saved_before + 1)
        self.wait_idle()
        expect(self.error_message()).to_have_count(0)
        expect(self.cell(column, self.row_of(code))).to_have_text(value)

    def toast(self, text: str) -> Locator:
        return self.page.get_by_test_id("stToast").filter(has_text=text)

    # -- the dashboard

    def metric_value(self, label: str) -> Locator:
        """The value of the KPI card `label` (a labelled group: app_components/kpi_cards.py)."""
        return self.page.get_by_role("group", name=label, exact=True).locator(".kpi-value")

    def metric_delta(self, label: str) -> Locator:
        """The change on the KPI card `label`, its arrow included ("↑ 2")."""
        return self.page.get_by_role("group", name=label, exact=True).locator(".kpi-delta")

    def chart(self, title: str) -> Locator:
        """The Vega-Lite chart right under the subheader `title`."""
        heading = self.page.locator(".stElementContainer").filter(
            has=self.page.get_by_role("heading", name=title, exact=True)
        )
        return heading.locator(
            "xpath=following-sibling::div[contains(@class, 'stElementContainer')][1]"
        ).get_by_test_id("stVegaLiteChart")

    def chart_marks(self, title: str, role_description: str) -> list[dict[str, str]]:
        """The data of every mark drawn in chart `title`, from the ARIA labels that Vega puts
        on each SVG mark (`<path role="graphics-symbol" aria-roledescription="bar"
        aria-label="Month submitted: 2026-11; Tickets: 3; Status: Open; ...">`)."""
        chart = self.chart(title)
        expect(
            chart.locator("svg.marks"),
            f"chart {title!r} should be drawn as SVG (Streamlit switches Vega to canvas, "
            "which has no per-mark ARIA labels, above 2,000 values per datum)",
        ).to_have_count(1)
        labels: list[str] = chart.locator(
            f'svg [role="graphics-symbol"][aria-roledescription="{role_description}"]'
        ).evaluate_all("marks => marks.map(m => m.getAttribute('aria-label'))")
        return [parse_mark_label(label) for label in labels]

    def status_bars(self) -> list[tuple[str, str, int]]:
        """[(month, status, tickets)] of each bar drawn by "Ticket status per month", sorted."""
        bars = self.chart_marks("Ticket status per month", "bar")
        return sorted((b["Month"], b["Status"], int(b["Tickets"])) for b in bars)

    def priority_slices(self) -> list[tuple[str, int]]:
        """[(priority, tickets)] of each slice of the pie "Current ticket priorities" (one view
        with the open tickets by assignee, under one heading), sorted."""
        arcs = self.chart_marks("Priorities and open tickets by assignee", "arc mark")
        return sorted((a["Priority"], int(a["Tickets"])) for a in arcs)

    def wait_for_charts(
        self, bars: Mapping[tuple[str, str], int], slices: Mapping[str, int]
    ) -> None:
        """Wait until the charts draw exactly `bars` {(month, status): tickets} and `slices`
        {priority: tickets}: one mark per entry, none for anything else."""
        wait_until(
            self.status_bars,
            sorted((month, status, n) for (month, status), n in bars.items()),
            "bars (month, status, tickets) of 'Ticket status per month'",
        )
        wait_until(
            self.priority_slices,
            sorted(slices.items()),
            "slices (priority, tickets) of 'Current ticket priorities'",
        )

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)
