"""The whole story of the issue in a real browser, on an empty database: add tickets, change
them in the grid, reload, and see the open-ticket metric and both charts follow.

Every expected number is worked out here from the tickets this test created and the changes
it made; the charts are read from the ARIA labels Vega gives each SVG mark."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer
from tests.support.browser import Desk

OPEN_METRIC = "Number of open tickets"
OPEN_STATUSES = {"Open", "In Progress"}  # the metric's definition (its help text)


def utc_month() -> str:
    """The month the app files a ticket under: month of created_at in UTC."""
    return datetime.now(UTC).strftime("%Y-%m")


def check_dashboard(desk: Desk, tickets: dict[str, dict[str, str]], moment: str) -> None:
    """The dashboard shows what `tickets` (code -> month, status, priority) imply."""
    open_now = sum(t["status"] in OPEN_STATUSES for t in tickets.values())
    bars = Counter((t["month"], t["status"]) for t in tickets.values())
    slices = Counter(t["priority"] for t in tickets.values())

    expect(desk.metric_value(OPEN_METRIC)).to_have_text(str(open_now))
    # Every ticket was created by this test, so none was open when the period began: the
    # change over the period is the whole count, up (an arrow) unless there is none.
    expect(desk.metric_delta(OPEN_METRIC)).to_have_text(f"↑ {open_now}" if open_now else "0")
    desk.wait_for_charts(bars, slices)
    desk.screenshot(moment)


@pytest.mark.e2e
def test_dashboard_follows_tickets_added_and_changed(
    empty_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    desk = new_desk(empty_app)
    desk.load_tickets()
    assert desk.ticket_count() == 0
    desk.go_to_dashboard()
    check_dashboard(desk, {}, "1-empty")

    # Three new tickets, all Open.
    desk.go_to_tickets()
    tickets: dict[str, dict[str, str]] = {}
    for issue, priority in [
        ("Email server down for the whole office", "High"),
        ("Printer on the 2nd floor prints blank pages", "Low"),
        ("New starter needs a VPN account", "Low"),
    ]:
        month = utc_month()  # only wrong if the test runs across a month's last midnight (UTC)
        code = desk.add_ticket(issue, priority)
        tickets[code] = {"month": month, "status": "Open", "priority": priority}
    assert desk.ticket_count() == 3
    email, printer, vpn = tickets

    desk.go_to_dashboard()
    check_dashboard(desk, tickets, "2-three-open")

    # Close one in the grid: one fewer open ticket, a Closed bar appears, priorities unchanged.
    desk.go_to_tickets()
    desk.edit_choice(email, "Status", "Closed")
    tickets[email]["status"] = "Closed"
    desk.go_to_dashboard()
    expect(desk.metric_value(OPEN_METRIC)).to_have_text("2")  # 3 open, one closed
    check_dashboard(desk, tickets, "3-one-closed")

    # In Progress still counts as open; a priority change moves a slice of the pie.
    desk.go_to_tickets()
    desk.edit_choice(printer, "Status", "In Progress")
    tickets[printer]["status"] = "In Progress"
    desk.edit_choice(vpn, "Priority", "Medium")
    tickets[vpn]["priority"] = "Medium"

    # A page load of the dashboard: what it shows now comes from the database alone.
    desk.load_dashboard()
    check_dashboard(desk, tickets, "4-in-progress-and-medium")

    # Another person opening the dashboard sees the same.
    other = new_desk(empty_app)
    other.load_dashboard()
    check_dashboard(other, tickets, "5-other-person")
    assert desk.page_errors == other.page_errors == []
