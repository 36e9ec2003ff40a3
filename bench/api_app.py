"""The desk's server as bench/api_bench.py runs it: ticket.py's st.App (the same lifespan,
routes, API mount and middleware, in the same order) with one route more, the floor:
`GET /api/bench-floor`, a trivial Starlette route that answers a small JSON document and
touches nothing else. It sits under /api/ like the API, so its requests pass the same
middleware (the Content-Security-Policy header and the sign-in check, which lets /api/ through
to the API's own token check); what an API request costs beyond it is FastAPI, the token, the
rate limit, the service and its database work.

It never ships enabled: it is not in ticket.py, and bench/api_bench.py copies this file beside
the snapshot's ticket.py (as bench_api_app.py) and runs `streamlit run bench_api_app.py` there.
api_bench.py also checks that ticket.py still builds its app the way this file does."""

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ticketdesk import api
from ticketdesk.web import lifespan, middleware, routes

FLOOR_PATH = "/api/bench-floor"  # api_bench.py's FLOOR_PATH


async def floor(_request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


app = st.App(
    "ticket.py",
    lifespan=lifespan,
    routes=[Route(FLOOR_PATH, floor, methods=["GET"]), *routes(), *api.routes()],
    middleware=middleware(),
)
