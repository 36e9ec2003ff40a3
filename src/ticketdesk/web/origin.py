"""The origin check of every state-changing route (routes() wraps each POST route in
same_origin_only): a request whose Origin header, or without one its Referer, names another
site is refused with 403 before anything happens, besides each form's own CSRF token (OWASP's
CSRF cheat sheet: verify the source origin with standard headers, as defence in depth).

"This site" is the Host the browser sent (scheme aside: behind a TLS-terminating proxy the
server sees http while the page is https), or an origin listed in Streamlit's
server.corsAllowedOrigins (for a proxy that rewrites the Host header). A request with neither
header (a program, or a browser told to send no referrer) passes: the tokens still apply."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import streamlit as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

Endpoint = Callable[[Request], Awaitable[Response]]

REFUSED = (
    "Refused: this request came from another site. Nothing was done; to sign in or out, use "
    "the desk's own pages."
)


def _listed_origins() -> set[str]:
    listed = st.get_option("server.corsAllowedOrigins") or []
    return {str(origin).strip().rstrip("/").lower() for origin in listed}


def from_elsewhere(request: Request) -> bool:
    """Whether the Origin (or, without one, the Referer) names another site than this one."""
    sent = request.headers.get("origin")
    if sent is None:
        sent = request.headers.get("referer")
        if sent is None:
            return False
    try:
        parts = urlsplit(sent.strip())
    except ValueError:
        return True
    if not parts.scheme or not parts.netloc:  # "null" (a sandboxed or privacy-minded page)
        return True
    host = (request.headers.get("host") or request.url.netloc).lower()
    if parts.netloc.lower() == host:
        return False
    return f"{parts.scheme}://{parts.netloc}".lower() not in _listed_origins()


def same_origin_only(endpoint: Endpoint) -> Endpoint:
    """`endpoint`, refusing requests from other sites with 403."""

    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        if from_elsewhere(request):
            return PlainTextResponse(REFUSED, 403, headers={"Cache-Control": "no-store"})
        return await endpoint(request)

    return checked
