"""Streamlit's page, told where the app is before its script runs.

Loaded at a page's own address (/dashboard, /people, ...), Streamlit's page cannot tell the
page "dashboard" of an app at / from the main page of an app served under /dashboard/: it
first asks /dashboard/_stcore/health and /dashboard/_stcore/host-config, and only after both
fail and a fixed 100 ms wait asks /_stcore/... (streamlit#7074; the frontend's getPossibleBaseUris
and its ping loop). That cost every direct load of a page other than the main one 150-200 ms,
a quarter of a warm Dashboard load. The desk is always served at the root of its origin
(the sign-in routes are absolute paths), so the page is told so: `window.__streamlit =
{BACKEND_BASE_URL: <origin>}`, the frontend's own setting for hosts that embed it, read
once when its script loads. Nothing else changes: with the setting the frontend probes
only the root, which is where it ended up anyway.

The script is inline; the Content-Security-Policy allows it by its hash (headers.py)."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCRIPT = "window.__streamlit = { BACKEND_BASE_URL: window.location.origin };"
TAG = f"<script>{SCRIPT}</script>".encode()
SCRIPT_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode() + "'"
"""The CSP source that allows SCRIPT."""

PAGE_PATH = re.compile(r"/[A-Za-z0-9_-]*")
"""The addresses of pages (/, /dashboard, ...): Streamlit answers them with its page. Files,
routes with a dot or a second segment (/export.csv, /files/..., /_stcore/..., /static/...)
are never rewritten."""
SHELL_MARKER = b"window.prerenderReady"
"""A line of Streamlit's index.html: only its page is rewritten, never the sign-in page."""


def with_base_url(page: bytes) -> bytes:
    """Streamlit's page with TAG first in its <head>; anything else unchanged."""
    if SHELL_MARKER not in page or TAG in page:
        return page
    return page.replace(b"<head>", b"<head>" + TAG, 1)


class PageShellBaseUrl:
    """ASGI middleware: Streamlit's page, at any page address, carries TAG. The page is asked
    for uncompressed (it is about 2 KB) so that it can be rewritten here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not PAGE_PATH.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if message["status"] == 200 and headers.get("content-type", "").startswith(
                    "text/html"
                ):
                    start = message  # held until the whole body is here
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = with_base_url(b"".join(chunks))
                headers = MutableHeaders(scope=start)
                headers["content-length"] = str(len(body))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, rewrite)
