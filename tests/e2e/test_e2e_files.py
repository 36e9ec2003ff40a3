"""Attachments in the browser: two files on a new ticket from the Tickets form; a screenshot
attached to a reply shows as a thumbnail loaded from the desk's own /files route and downloads
the same bytes; a requester gets the file of a public reply, never that of an internal note;
an HTML file and an SVG holding a script open as downloads and never run."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from playwright.sync_api import Dialog, FilePayload, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.support.app_server import AppServer
from tests.support.browser import Desk, wait_until
from tests.support.images import tiny_png

pytestmark = pytest.mark.e2e


def test_a_screenshot_on_a_reply_shows_as_a_thumbnail_and_downloads_byte_for_byte(
    empty_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    desk = new_desk(empty_app)
    desk.load_tickets()
    desk.expect_signed_in()
    code = desk.add_ticket("Screen flickers", "Medium")
    page = desk.page
    page.goto(f"{empty_app.url}/?ticket={code}")
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    desk.wait_idle()
    png = tiny_png()
    page.get_by_label("Message", exact=True).fill("Here is what I see")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        [FilePayload(name="screen.png", mimeType="image/png", buffer=png)]
    )
    expect(page.get_by_text("screen.png").first).to_be_visible()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Public reply added.")).to_be_visible()
    desk.wait_idle()
    thumbnail = page.locator("img[src*='/files/']")
    expect(thumbnail).to_have_count(1)
    loaded = thumbnail.evaluate("img => img.complete && img.naturalWidth")
    assert loaded == 2
    link = page.get_by_role("link", name="screen.png")
    with page.expect_download() as download_info:
        link.click(modifiers=["Alt"])
    path = download_info.value.path()
    assert path.read_bytes() == png
    desk.screenshot("reply-with-thumbnail")


LOG = b"".join(b"boot attempt %d: no disk\n" % n for n in range(50))
SETTINGS = b'{"disk": "sda", "mode": "ahci"}\n'


def attach(form: Locator, files: list[FilePayload]) -> None:
    form.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files)
    for file in files:
        expect(form.get_by_text(file["name"]).first).to_be_visible()


def download(page: Page, link: Locator) -> bytes:
    with page.expect_download() as download_info:
        link.click(modifiers=["Alt"])
    return download_info.value.path().read_bytes()


def test_two_files_on_a_new_ticket_and_a_requester_sees_the_replys_file_not_the_notes(
    empty_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    rita = new_desk(empty_app, "Rita Rossi", "requester")
    rita.load_tickets()
    rita.expect_signed_in()
    attach(
        rita.form(),
        [
            FilePayload(name="boot.log", mimeType="text/plain", buffer=LOG),
            FilePayload(name="settings.json", mimeType="application/json", buffer=SETTINGS),
        ],
    )
    code = rita.add_ticket("Laptop will not boot", "High")
    ticket_url = f"{empty_app.url}/?ticket={code}"
    rita.page.goto(ticket_url)
    expect(rita.page.get_by_role("heading", name=code)).to_be_visible()
    rita.wait_idle()
    assert download(rita.page, rita.page.get_by_role("link", name="boot.log")) == LOG
    assert download(rita.page, rita.page.get_by_role("link", name="settings.json")) == SETTINGS
    rita.screenshot("new-ticket-with-two-files")

    ana = new_desk(empty_app)  # an agent: a public reply and an internal note, each with a file
    page = ana.page
    page.goto(ticket_url)
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    ana.wait_idle()
    reply = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Send"))
    for kind, text, name, body in [
        ("Public reply", "Try this setting", "fix.txt", b"mode=raid\n"),
        ("Internal note", "Admin password inside", "secret.txt", b"root:hunter2\n"),
    ]:
        page.get_by_test_id("stButtonGroup").get_by_text(kind).click()
        page.get_by_label("Message", exact=True).fill(text)
        attach(reply, [FilePayload(name=name, mimeType="text/plain", buffer=body)])
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_text(f"{kind} added.")).to_be_visible()
        ana.wait_idle()
        expect(page.get_by_role("link", name=name)).to_be_visible()
    note_file = page.get_by_role("link", name="secret.txt").get_attribute("href")
    assert note_file is not None and note_file.startswith("/files/")

    rita.page.goto(ticket_url)
    expect(rita.page.get_by_text("Try this setting")).to_be_visible()
    rita.wait_idle()
    assert download(rita.page, rita.page.get_by_role("link", name="fix.txt")) == b"mode=raid\n"
    expect(rita.page.get_by_text("Admin password inside")).to_have_count(0)
    expect(rita.page.get_by_role("link", name="secret.txt")).to_have_count(0)
    # Nor can she open it by its address: the same answer as for a file that does not exist.
    refused = rita.page.request.get(empty_app.url + note_file)
    assert refused.status == 404
    assert b"hunter2" not in refused.body()
    rita.screenshot("requester-sees-reply-file-not-note-file")


EVIL_HTML = b"<!doctype html><html><body><h1>hi</h1><script>alert(1)</script></body></html>\n"
EVIL_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>\n"
)


def test_html_and_svg_with_script_open_as_downloads_and_never_run(
    empty_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    desk = new_desk(empty_app)
    desk.load_tickets()
    desk.expect_signed_in()
    page = desk.page
    # The dialog listener does see a script's alert: the control for "no dialog" below.
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def watch(opened: Page) -> None:
        opened.on("dialog", record)

    probe = page.context.new_page()
    watch(probe)
    probe.set_content("<script>alert('control')</script>")
    wait_until(lambda: dialogs, ["control"], "the control alert")
    probe.close()
    dialogs.clear()
    # Every page the browser opens from here on (a link's new tab too) reports its dialogs.
    page.context.on("page", watch)
    attach(
        desk.form(),
        [
            FilePayload(name="invoice.html", mimeType="text/html", buffer=EVIL_HTML),
            FilePayload(name="logo.svg", mimeType="image/svg+xml", buffer=EVIL_SVG),
        ],
    )
    code = desk.add_ticket("Suspicious attachments", "Low")
    page.goto(f"{empty_app.url}/?ticket={code}")
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    desk.wait_idle()
    expect(page.locator("img[src*='/files/']")).to_have_count(0)  # no SVG shown inline
    for name, content in [("invoice.html", EVIL_HTML), ("logo.svg", EVIL_SVG)]:
        link = page.get_by_role("link", name=name)
        href = link.get_attribute("href")
        assert href is not None and href.startswith("/files/")
        # Opened from its link by a plain click (in this tab: Streamlit's new-tab target
        # taken off, so that a file served inline would replace the page and run here).
        link.evaluate("a => a.removeAttribute('target')")
        with page.expect_download() as clicked:
            link.click()
        assert clicked.value.suggested_filename == name
        assert clicked.value.path().read_bytes() == content
        page.wait_for_timeout(1000)  # time for a script to run, if it ever did
        expect(page.get_by_role("heading", name=code)).to_be_visible()  # still the desk
        # Typed into the address bar: a download too.
        other = page.context.new_page()
        with other.expect_download() as typed, contextlib.suppress(PlaywrightError):
            other.goto(empty_app.url + href)
        assert typed.value.path().read_bytes() == content
        other.wait_for_timeout(1000)
        other.close()
        served = page.request.get(empty_app.url + href)
        assert served.headers["content-disposition"].startswith("attachment")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
    assert dialogs == []
    assert desk.dialogs == []
    desk.screenshot("html-and-svg-as-downloads")
