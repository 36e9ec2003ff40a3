"""The Tickets page in a real browser: add a ticket, refuse a blank one, show HTML as text,
change a status in the grid and find it persisted after a reload and for another person.

All tests share one app (3 demo tickets); each works on tickets it creates itself and
compares counts with what it read just before its own action, so the order does not matter.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer
from tests.support.browser import Desk
from ticketdesk.domain.tickets import EventKind, parse_ticket_code
from ticketdesk.services import tickets as ticket_service


def unique(text: str) -> str:
    return f"{text} [e2e {uuid.uuid4().hex[:8]}]"


def ticket_number(code: str) -> int:
    match = re.fullmatch(r"TICKET-(\d+)", code)
    assert match, f"{code!r} is not a ticket ID"
    return int(match.group(1))


@pytest.mark.e2e
def test_add_ticket(demo_app: AppServer, new_desk: Callable[..., Desk]) -> None:
    desk = new_desk(demo_app)
    desk.load_tickets()
    # hide_index=True: no index column, so glide-cell-<col>-<row> has col 0 = ID ... 4 = date
    # (more columns may follow; the Desk helpers address cells by header).
    headers = desk.grid_headers()
    assert headers[:5] == ["ID", "Issue", "Status", "Priority", "Date Submitted"], headers
    count_before = desk.ticket_count()
    ids_before = {
        ticket_number(t) for t in desk.grid().locator('td[id^="glide-cell-0-"]').all_inner_texts()
    }
    issue = unique("Printer on the 3rd floor jams on every duplex job")

    started = datetime.now(UTC).replace(second=0, microsecond=0)
    code = desk.add_ticket(issue, "High")
    finished = datetime.now(UTC)

    expect(desk.success_message()).to_contain_text(f"Ticket {code} submitted")
    assert ticket_number(code) > max(ids_before), "a new ticket gets a new, higher ID"
    # Newest first: the new ticket is the grid's first row, Open, with what was typed. (The
    # run that showed the success message also drew the grid: no need to wait long.)
    expect(desk.cell("ID", 0), "the new ticket should be the grid's first row").to_have_text(
        code, timeout=5000
    )
    expect(desk.cell("Issue", 0)).to_have_text(issue)
    expect(desk.cell("Status", 0)).to_have_text("Open")
    expect(desk.cell("Priority", 0)).to_have_text("High")
    # The browser runs in UTC, so "Date Submitted" is the UTC time of the submission.
    submitted = datetime.strptime(
        desk.cell("Date Submitted", 0).inner_text()[:16], "%Y-%m-%d %H:%M"
    )
    assert started <= submitted.replace(tzinfo=UTC) <= finished + timedelta(minutes=1)
    assert desk.ticket_count() == count_before + 1
    # The form is ready for the next ticket.
    expect(desk.issue_box()).to_have_value("")
    desk.screenshot("added")
    assert desk.page_errors == []


@pytest.mark.e2e
def test_blank_description_is_refused(demo_app: AppServer, new_desk: Callable[..., Desk]) -> None:
    desk = new_desk(demo_app)
    desk.load_tickets()
    count_before = desk.ticket_count()
    newest_before = desk.cell("ID", 0).inner_text()

    for attempt, blank in enumerate(["", "   \n\t  "]):
        if attempt:
            desk.reload()  # a page without the message of the previous refusal
        desk.submit(blank, "Low")  # returns when the run caused by this submission is over

        expect(desk.error_message()).to_contain_text("cannot be empty")
        expect(desk.success_message()).to_have_count(0)
        assert desk.ticket_count() == count_before
        expect(desk.cell("ID", 0)).to_have_text(newest_before)
        # A refused text stays in the box to be corrected.
        expect(desk.issue_box()).to_have_value(blank)
    desk.screenshot("refused")


HOSTILE = (
    '<b>bold</b><script>window.__pwned=1</script><img src="x" onerror="window.__pwned=2">'
    '<a href="javascript:window.__pwned=3">link</a>'
)


@pytest.mark.e2e
def test_html_description_is_shown_as_text_and_never_run(
    demo_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    desk = new_desk(demo_app)
    desk.load_tickets()
    issue = unique(HOSTILE)

    code = desk.add_ticket(issue, "Medium")

    expect(desk.success_message()).to_contain_text(code)
    # The one-row table of the new ticket shows it literally.
    details = desk.tables().first
    expect(desk.cell("ID", 0, table=details)).to_have_text(code)
    expect(desk.cell("Issue", 0, table=details)).to_have_text(issue)
    desk.screenshot("html-in-details")
    assert desk.js("typeof window.__pwned") == "undefined"

    desk.reload()  # the grid, rendered from the database
    expect(desk.cell("Issue", desk.row_of(code))).to_have_text(issue)
    desk.screenshot("html-in-grid")

    assert desk.js("typeof window.__pwned") == "undefined"
    # None of the markup became elements anywhere in the document.
    for markup in ["b:text-is('bold')", 'img[src="x"]', 'a[href*="__pwned"]']:
        expect(desk.page.locator(markup)).to_have_count(0)
    assert desk.js("[...document.scripts].some(s => s.textContent.includes('__pwned'))") is False
    assert desk.dialogs == []
    assert desk.page_errors == []


@pytest.mark.e2e
def test_status_change_in_grid_persists_for_everyone(
    demo_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    desk = new_desk(demo_app)
    desk.load_tickets()
    issue = unique("VPN drops every ten minutes for remote staff")
    code = desk.add_ticket(issue, "Low")
    row = desk.row_of(code)
    expect(desk.cell("Status", row)).to_have_text("Open")

    desk.edit_choice(code, "Status", "Closed", screenshot="status-editor-open")

    expect(desk.toast(f"{code} saved")).to_be_visible()
    expect(desk.cell("Status", desk.row_of(code))).to_have_text("Closed")

    desk.reload()
    row = desk.row_of(code)
    values = desk.row_values(row)
    assert [values[c] for c in ("ID", "Issue", "Status", "Priority")] == [
        code,
        issue,
        "Closed",
        "Low",
    ]
    desk.screenshot("closed-after-reload")

    # Another person, in a fresh browser context with its own session, sees the change too.
    other = new_desk(demo_app)
    other.load_tickets()
    expect(other.cell("Status", other.row_of(code))).to_have_text("Closed")
    assert desk.page_errors == other.page_errors == []


@pytest.mark.e2e
def test_a_kept_edit_does_not_follow_the_grid_to_other_tickets(
    demo_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    """A saved edit stays in the grid's edit state (its row 0, here) while the grid shows the
    same tickets; an edit back to the value the grid was drawn with is saved too. A search that
    puts another ticket in row 0 (one row before and after: the same shape of grid) must show
    that ticket as it is, in the page's one ticket grid."""
    desk = new_desk(demo_app)
    desk.load_tickets()
    tag = uuid.uuid4().hex[:8]
    projector = desk.add_ticket(f"Projector in room {tag} flickers", "Low")
    scanner = desk.add_ticket(f"Scanner in room {tag} is offline", "Low")
    # The grid, and the one-row table of the ticket just submitted above it.
    tables = desk.tables()
    expect(tables).to_have_count(2)
    search = desk.page.get_by_role("textbox", name="Search", exact=True)

    def search_for(words: str, codes: list[str]) -> None:
        search.fill(words)
        search.press("Enter")
        expect(desk.ticket_count_text()).to_have_text(f"Number of tickets: {len(codes)}")
        desk.wait_idle()
        # (A grid drawn anew fills its accessible cells a moment after the run.)
        expect(desk.grid().locator('td[id^="glide-cell-0-"]')).to_have_text(codes)

    search_for(f"projector {tag}", [projector])
    desk.edit_choice(projector, "Status", "Closed")
    # Back to the value the grid was drawn with (the grid drops its edit then), and again.
    desk.edit_choice(projector, "Status", "Open")
    desk.edit_choice(projector, "Status", "Closed")
    search_for(f"scanner {tag}", [scanner])
    expect(desk.cell("Status", 0), "row 0's edit must not be drawn on it").to_have_text("Open")
    expect(tables, "the grid before the search must not stay on screen").to_have_count(2)
    desk.screenshot("search-after-an-edit")
    # The next edit writes only itself, not the edit made on the grid of the other ticket.
    desk.edit_choice(scanner, "Priority", "High")

    search_for(tag, [scanner, projector])
    assert desk.row_values(0)["Status"] == "Open"
    assert desk.row_values(0)["Priority"] == "High"
    assert desk.row_values(1)["Status"] == "Closed"
    assert desk.row_values(1)["Priority"] == "Low"
    expect(tables).to_have_count(2)
    changes = {
        code: [
            (c.kind.value, c.old_value, c.new_value)
            for c in ticket_service.ticket_history(
                demo_app.engine, desk.person.account, parse_ticket_code(code)
            )
            if c.kind in (EventKind.STATUS, EventKind.PRIORITY)
        ]
        for code in (projector, scanner)
    }
    assert changes == {
        projector: [
            (EventKind.STATUS.value, "Open", "Closed"),
            (EventKind.STATUS.value, "Closed", "Open"),
            (EventKind.STATUS.value, "Open", "Closed"),
        ],
        scanner: [(EventKind.PRIORITY.value, "Low", "High")],
    }
    assert desk.page_errors == []
