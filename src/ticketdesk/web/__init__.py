"""The HTTP side of the app, served by Streamlit's ASGI server (st.App in ticket.py): sign-in
and sign-out pages, the middleware that keeps everything else behind a signed-in session, the
single sign-on bridge, the streamed CSV export and attachments' downloads."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from ticketdesk.domain.errors import DatabaseUnavailable
from ticketdesk.mail.runner import MailThreads, start_mail_threads
from ticketdesk.services import bootstrap, webhook_worker
from ticketdesk.services import demo as demo_service

from ..config import demo_tickets_on_first_start, mail_config, webhook_settings
from . import export_route, files_route, signin, sso
from .engine import engine, now
from .guard import SignInRequired
from .headers import ContentSecurityPolicy
from .origin import same_origin_only
from .page_shell import PageShellBaseUrl


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
    # The single-machine setup: the mail worker (unless TICKETDESK_MAIL_IN_APP=0) and, with
    # TICKETDESK_WEBHOOKS_IN_APP, the webhook worker run in threads of this server (their
    # network calls are outside any transaction: a slow peer never holds up a page).
    running = start_mail()
    settings = webhook_settings()
    stop = threading.Event()
    hooks = None
    if settings.in_app:
        hooks = threading.Thread(
            target=webhook_worker.run, args=(engine(), settings, stop), name="webhooks", daemon=True
        )
        hooks.start()
    try:
        yield
    finally:
        stop.set()
        if hooks is not None:
            await to_thread.run_sync(lambda: hooks.join(settings.timeout_s + 1))
        if running is not None:
            await to_thread.run_sync(running.close)


def start_mail() -> MailThreads | None:
    """The outbox worker (and the IMAP fetcher, with TICKETDESK_IMAP_URL) in this server,
    unless TICKETDESK_MAIL_IN_APP=0 (a separate `ticketdesk worker` runs them). A malformed
    mail setting is said once, not fatal."""
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
    """The desk's own routes (GET ones answer HEAD too). Every state-changing (POST) route is
    wrapped in same_origin_only: a request from another site is refused with 403."""
    return [
        Route("/export.csv", export_route.export_csv, methods=["GET"]),
        Route(files_route.FILES_PATH, files_route.serve_file, methods=["GET"]),
        Route(signin.SIGNIN_PATH, signin.signin_page, methods=["GET"]),
        Route(signin.SIGNIN_PATH, same_origin_only(signin.signin_submit), methods=["POST"]),
        Route(signin.SIGNOUT_PATH, signin.signout_page, methods=["GET"]),
        Route(signin.SIGNOUT_PATH, same_origin_only(signin.signout), methods=["POST"]),
        Route(sso.START_PATH, sso.start, methods=["GET"]),
        Route(sso.COMPLETE_PATH, signin.sso_complete, methods=["GET"]),
    ]


def middleware() -> list[Middleware]:
    """Outermost first: the policy also covers the sign-in middleware's own responses; the
    page is rewritten only once the sign-in middleware let it through."""
    return [
        Middleware(ContentSecurityPolicy),
        Middleware(PageShellBaseUrl),
        Middleware(SignInRequired),
    ]
