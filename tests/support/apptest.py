"""Helpers of the AppTest page tests (tests/pages/): accounts with a password, sessions opened
for them, and the app opened as a browser with such a session would open it.

The database they work on is the `app_engine` fixture (tests/pages/conftest.py). AppTest
cannot send the session cookie; the app takes the token from session state instead
(app_components.keys.SESSION_TOKEN)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from app_components.keys import NEW_TICKET, SESSION_TOKEN
from ticketdesk.domain.accounts import Account
from ticketdesk.services import accounts as account_service

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "ticket.py")
PASSWORD = "correct horse battery"


def person(
    engine: Engine,
    name: str,
    role: str,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    now: datetime | None = None,
) -> Account:
    """A new account that signs in with `password`; its email is the name, lower case, with
    dots for spaces (ana.agent@example.com) unless given. Made at `now`, by default the real
    clock's."""
    email = email or name.lower().replace(" ", ".") + "@example.com"
    when = now or datetime.now(UTC)
    return account_service.create_account(engine, None, email, name, role, password, when)


def session_of(
    engine: Engine, account: Account, password: str = PASSWORD, *, now: datetime | None = None
) -> str:
    """The token of a session `account` opens at `now`: by default the real clock's, which
    is what the app checks sessions against unless a test patches its clock."""
    when = now or datetime.now(UTC)
    return account_service.sign_in(engine, account.email, password, "test", when).token


def open_app(token: str | None, *, page: str | None = None, ticket: str | None = None) -> AppTest:
    """The app, run once, as a browser with this session token (None: no session) opens it:
    at the ticket list, at `page` or at one ticket (?ticket=...)."""
    at = AppTest.from_file(APP, default_timeout=30)
    if token is not None:
        at.session_state[SESSION_TOKEN] = token
    if ticket is not None:
        at.query_params["ticket"] = ticket
    if page is not None:
        at.switch_page(page)
    return at.run()


def open_new_ticket_form(at: AppTest) -> AppTest:
    """Open the Tickets page's "New ticket" popover: the form is drawn only while it is
    open."""
    at.session_state[NEW_TICKET] = True
    return at.run()


def submit_new_ticket(at: AppTest) -> AppTest:
    """Click the new-ticket form's Submit button."""
    (submit,) = [b for b in at.button if b.form_id == "add_ticket"]
    return submit.click().run()


def chart_rows(at: AppTest) -> list[list[dict[str, Any]]]:
    """The rows of each dataset the page's Vega-Lite charts send to the browser, in order (the
    Dashboard's priorities and assignees share one view, each with a dataset of its own)."""
    return [
        list(pa.ipc.open_stream(dataset.data.data).read_all().to_pylist())
        for chart in at.get("vega_lite_chart")
        for dataset in chart.proto.datasets
    ]
