"""The Content-Security-Policy on every HTTP response of the app: the browser loads images,
scripts, styles, fonts and connections from the app's own origin only.

Messages are Markdown that requesters write; an image in one (`![t](http://any.host/p.png)`)
would make every agent's browser fetch it from that host, telling it who read the ticket,
when and from where. The pages show images as text already (app_components.text); this is
the browser's own guarantee for everything the app renders, whatever renders it.

What Streamlit's own page needs was found in Chromium (the e2e tests count what the policy
refused as a page error): inline styles (emotion injects <style> elements; Streamlit's
elements and the sign-in page use style attributes), and the one inline script of its
index.html and the one page_shell.py adds to it, allowed by their hashes. Images, fonts and
workers also come from data: and blob: URLs that the page makes itself. The dashboard's
charts need no `eval`."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import streamlit
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import page_shell

STREAMLIT_PAGE = Path(streamlit.__file__).parent / "static" / "index.html"
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)


def inline_script_hashes(page: Path = STREAMLIT_PAGE) -> list[str]:
    """CSP sources ('sha256-...') for the inline scripts of Streamlit's page, as the installed
    version serves it (read once, at start)."""
    try:
        html = page.read_text(encoding="utf-8")
    except OSError:
        return []
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' data: blob:",
        "font-src 'self' data:",
        "style-src 'self' 'unsafe-inline'",
        " ".join(("script-src 'self'", *inline_script_hashes(), page_shell.SCRIPT_HASH)),
        "worker-src 'self' blob:",
        "connect-src 'self'",  # the page's WebSocket: same origin, ws: or wss:
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'self'",
    )
)


class ContentSecurityPolicy:
    """ASGI middleware: adds the policy to every HTTP response (the sign-in pages, the
    redirects and refusals of the sign-in middleware, Streamlit's page and files, the
    export) unless the response set one itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_policy)
