"""The middleware that puts the whole app behind sign-in: every HTTP request and WebSocket
handshake needs a valid server-side session, except the sign-in pages themselves, the single
sign-on round trip and the health check. Checked on the server for every request, so a
signed-out or deactivated person's cookie stops working at once (Streamlit's static files
alone are let through for a session checked less than recent_sessions.CHECK_SECONDS ago)."""

from __future__ import annotations

import html
from urllib.parse import quote

from anyio import to_thread
from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketdesk.domain.accounts import SessionEnded
from ticketdesk.domain.errors import DatabaseUnavailable
from ticketdesk.services import accounts as account_service

from . import recent_sessions, signin, sso
from .engine import SESSION_COOKIE, engine, now

OPEN_PATHS = frozenset(
    {
        signin.SIGNIN_PATH,
        signin.SIGNOUT_PATH,  # ending a session must work even when it has expired
        sso.START_PATH,
        sso.COMPLETE_PATH,
        *sso.STREAMLIT_PATHS,
        "/_stcore/health",  # for load balancers; says only "ok"
    }
)

API_PREFIX = "/api/"
"""The HTTP API checks its own bearer tokens (ticketdesk.api) and never takes the cookie."""


STATIC_PREFIX = "/static/"

RETRY_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>Ticket desk</title></head>
<body style="font-family: system-ui, sans-serif; margin: 10vh auto; max-width: 36rem">
<p role="alert">{message}</p></body></html>"""


def _cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies, parsed as leniently as browsers send them (http.cookies would
    drop every cookie after one it dislikes, e.g. another app's JSON cookie)."""
    return cookie_parser(_header(scope, b"cookie"))


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return ""


def _session_valid(token: str | None) -> bool:
    try:
        account_service.session_account(engine(), token, now())
    except SessionEnded:
        recent_sessions.forget(token)
        return False
    if token:
        recent_sessions.remember(token)
    return True


class SignInRequired:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] not in ("http", "websocket")
            or scope["path"] in OPEN_PATHS
            or scope["path"].startswith(API_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        token = cookies.get(SESSION_COOKIE)
        # Streamlit's own script, style and font files (the same in every install, no data of
        # the desk's): a session checked in the database moments ago is enough for them.
        # The page, host-config, the WebSocket, the export and media are checked every time.
        static = scope["path"].startswith(STATIC_PREFIX)
        if static and recent_sessions.recently_valid(token):
            await self.app(scope, receive, send)
            return
        try:
            valid = await to_thread.run_sync(_session_valid, token)
        except DatabaseUnavailable as exc:
            await self._refuse(scope, receive, send, self._unavailable(scope, exc), 1013)
            return
        if valid:
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, receive, send, self._sign_in_first(scope, cookies), 1008)

    @staticmethod
    def _unavailable(scope: Scope, exc: DatabaseUnavailable) -> Response:
        """503; a person's browser gets a page that asks again every few seconds."""
        if "text/html" not in _header(scope, b"accept"):
            return PlainTextResponse(str(exc), 503)
        page = RETRY_PAGE.format(message=html.escape(str(exc)))
        return HTMLResponse(page, 503, headers={"Retry-After": "5", "Cache-Control": "no-store"})

    @staticmethod
    def _sign_in_first(scope: Scope, cookies: dict[str, str]) -> Response:
        """A person's browser goes to the sign-in page (back here afterwards); anything else
        gets 401."""
        wants_page = scope["type"] == "http" and scope["method"] in ("GET", "HEAD")
        if not wants_page or "text/html" not in _header(scope, b"accept"):
            return PlainTextResponse("Sign in first: /signin", 401)
        if sso.STREAMLIT_USER_COOKIE in cookies:  # back from the identity provider
            return RedirectResponse(sso.COMPLETE_PATH, 303)
        target = scope["path"]
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        return RedirectResponse(f"{signin.SIGNIN_PATH}?next={quote(target, safe='')}", 303)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, response: Response, close_code: int
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": close_code})
            return
        await response(scope, receive, send)
