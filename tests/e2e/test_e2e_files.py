"""Attachments in the browser: a screenshot attached to a reply shows as a thumbnail loaded
from the desk's own /files route, and its link downloads the same bytes."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import pytest
from playwright.sync_api import FilePayload, expect

from tests.support.app_server import AppServer
from tests.support.browser import Desk

pytestmark = pytest.mark.e2e


def tiny_png() -> bytes:
    """A real 2x2 red PNG (the browser must be able to decode the thumbnail)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


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
