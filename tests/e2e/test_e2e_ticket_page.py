"""A ticket's own page in the browser: opened by URL, a reply, an internal note and a new
assignee, all three in the history after a reload."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, Desk

pytestmark = pytest.mark.e2e


def test_reply_note_and_assignee_show_in_the_history(
    empty_app: AppServer, new_desk: Callable[[AppServer], Desk]
) -> None:
    desk = new_desk(empty_app)
    desk.load_tickets()
    code = desk.add_ticket("Conference room screen shows no signal", "Medium")
    page = desk.page
    page.goto(f"{empty_app.url}/?ticket={code}")
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    name = page.get_by_label("Your name", exact=True)
    name.fill("Ana Agent")
    name.press("Enter")
    desk.wait_idle()

    box = page.get_by_label("Message", exact=True)
    box.fill("Checked the HDMI cable, **replacing** it <script>window.__pwned=1</script>")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Public reply added.")).to_be_visible()
    desk.wait_idle()
    page.get_by_test_id("stButtonGroup").get_by_text("Internal note").click()
    box.fill("Spare cables are in the cupboard by the lift")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Internal note added.")).to_be_visible()
    desk.wait_idle()
    page.get_by_label("…or another agent").fill("Ben Okafor")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    desk.wait_idle()

    page.reload()
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    desk.wait_idle()
    history = page.get_by_test_id("stText")
    # A reload is a new session: the name is gone, but the history keeps who did what.
    expect(history.filter(has_text="Ana Agent replied")).to_have_count(1)
    expect(history.filter(has_text="Ana Agent added an internal note")).to_have_count(1)
    expect(
        history.filter(has_text="Ana Agent reassigned it from nobody to Ben Okafor")
    ).to_have_count(1)
    expect(page.get_by_text("<script>window.__pwned=1</script>")).to_be_visible()  # text only
    expect(page.get_by_text("not visible to the requester")).to_be_visible()
    assert desk.js("window.__pwned") is None
    desk.screenshot("ticket-page-after-reload")
