"""A ticket's own page in the browser: opened by URL, a reply, an internal note and a new
assignee, all three in the history after a reload."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer
from tests.support.browser import Desk

pytestmark = pytest.mark.e2e


def test_reply_note_and_assignee_show_in_the_history(
    empty_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    ben = empty_app.person("Ben Castro", "agent")  # someone to assign the ticket to
    empty_app.person("Rita Rossi", "requester")  # not staff: never offered as an assignee
    desk = new_desk(empty_app)  # Ana Ortiz, an agent
    ana = desk.person.name
    desk.load_tickets()
    desk.expect_signed_in()
    code = desk.add_ticket("Conference room screen shows no signal", "Medium")
    page = desk.page
    page.goto(f"{empty_app.url}/?ticket={code}")
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    desk.wait_idle()
    # Who acts is the signed-in account: there is nothing to type one's name into.
    expect(page.get_by_label("Your name", exact=True)).to_have_count(0)

    box = page.get_by_label("Message", exact=True)
    box.fill("Checked the HDMI cable, **replacing** it <script>window.__pwned=1</script>")
    # A click on the kind already chosen keeps it chosen (it used to unselect it, and Send
    # then failed with "None is not a kind of message.").
    page.get_by_test_id("stButtonGroup").get_by_text("Public reply").click()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Public reply added.")).to_be_visible()
    desk.wait_idle()
    page.get_by_test_id("stButtonGroup").get_by_text("Internal note").click()
    box.fill("Spare cables are in the cupboard by the lift")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Internal note added.")).to_be_visible()
    desk.wait_idle()

    # The assignee is chosen among the active agents and admins; no free text any more.
    expect(page.get_by_label("…or another agent")).to_have_count(0)
    assignee = page.get_by_role("combobox", name="Assignee")
    expect(assignee).to_have_value("Unassigned")
    assignee.click()
    expect(page.get_by_role("option")).to_have_text(["Unassigned", ana, ben.name])
    desk.screenshot("assignee-options")
    page.get_by_role("option", name=ben.name, exact=True).click()
    expect(assignee).to_have_value(ben.name)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    desk.wait_idle()

    page.reload()
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    desk.wait_idle()
    expect(page.get_by_role("combobox", name="Assignee")).to_have_value(ben.name)
    history = page.get_by_test_id("stText")
    # The history names the signed-in account that did each thing.
    expect(history.filter(has_text=f"{ana} filed it with priority Medium")).to_have_count(1)
    expect(history.filter(has_text=f"{ana} replied")).to_have_count(1)
    expect(history.filter(has_text=f"{ana} added an internal note")).to_have_count(1)
    expect(history.filter(has_text=f"{ana} reassigned it from nobody to {ben.name}")).to_have_count(
        1
    )
    expect(page.get_by_text("<script>window.__pwned=1</script>")).to_be_visible()  # text only
    expect(page.get_by_text("not visible to the requester")).to_be_visible()
    assert desk.js("window.__pwned") is None
    assert desk.page_errors == []  # nothing refused by the Content-Security-Policy either
    desk.screenshot("ticket-page-after-reload")
