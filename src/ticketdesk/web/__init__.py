"""The HTTP side of the app, served by Streamlit's ASGI server (st.App in ticket.py): sign-in
and sign-out pages, the middleware that keeps everything else behind a signed-in session, the
single sign-on bridge and the streamed CSV export."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from ticketdesk.domain.errors import DatabaseUnavailable
from ticketdesk.mail.runner import MailThreads, start_mail_threads
from ticketdesk.services import bootstrap
from ticketdesk.services import demo as demo_service

from ..config import demo_tickets_on_first_start, mail_config
from . import export_route, signin, sso
from .engine import engine, now
from .guard import SignInRequired


def prepare_database() -> None:
    """Migrate; give a new, empty desk its demo tickets and demo accounts, printing the
    accounts' generated passwords once on the server's terminal."""
    made = bootstrap.prepare(engine(), now(), demo_tickets_on_first_start())
    if made:
        print(demo_service.describe_accounts(made), flush=True)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """Server start: the database is ready (and the demo accounts exist) before anyone can
    reach the sign-in page. A database that cannot be reached yet does not stop the server:
    pages answer 503 (and retry by themselves) until it is back, then it is migrated."""
    try:
        await to_thread.run_sync(prepare_database)
    except DatabaseUnavailable as exc:
        print(f"ticketdesk: {exc}", file=sys.stderr, flush=True)
    running = start_mail()
    try:
        yield
    finally:
        if running is not None:
            await to_thread.run_sync(running.close)


def start_mail() -> MailThreads | None:
    """The single-machine setup: the outbox worker (and the IMAP fetcher, with
    TICKETDESK_IMAP_URL) run in this server, unless TICKETDESK_MAIL_IN_APP=0 (a separate
    `ticketdesk worker` runs them). A malformed mail setting is said once, not fatal."""
    try:
        config = mail_config()
    except ValueError as exc:
        print(f"ticketdesk: mail is off: {exc}", file=sys.stderr, flush=True)
        return None
    if not config.in_app:
        return None
    logging.getLogger("ticketdesk.mail").setLevel(logging.INFO)
    return start_mail_threads(engine, config)


def routes() -> list[BaseRoute]:
    return [
        Route("/export.csv", export_route.export_csv, methods=["GET"]),
        Route(signin.SIGNIN_PATH, signin.signin_page, methods=["GET"]),
        Route(signin.SIGNIN_PATH, signin.signin_submit, methods=["POST"]),
        Route(signin.SIGNOUT_PATH, signin.signout, methods=["POST"]),
        Route(sso.START_PATH, sso.start, methods=["GET"]),
        Route(sso.COMPLETE_PATH, sso.complete, methods=["GET"]),
    ]


def middleware() -> list[Middleware]:
    return [Middleware(SignInRequired)]
