"""What every page needs: the engine (built once per process), the clock, error display."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from sqlalchemy import Engine

from ticketdesk import bootstrap, services
from ticketdesk.config import database_url, demo_tickets_on_first_start
from ticketdesk.db import make_engine
from ticketdesk.domain import ACTOR_MAX_CHARS, DatabaseUnavailable

LIVE_SECONDS = float(os.environ.get("TICKETDESK_LIVE_SECONDS", "3"))
"""How often a page asks whether anyone changed the desk (one indexed read)."""


def now() -> datetime:
    return datetime.now(UTC)


@st.cache_resource(show_spinner="Opening the ticket database…")
def _engine(url: str) -> Engine:
    engine = make_engine(url)
    try:
        bootstrap.prepare(engine, now(), demo_tickets_on_first_start())
    except Exception:
        engine.dispose()
        raise
    return engine


def engine() -> Engine:
    """The process-wide engine, migrated and seeded on first use."""
    return _engine(database_url())


@contextmanager
def database_errors() -> Iterator[None]:
    """Show an unreachable database as a message, never a traceback; follow_changes() keeps
    asking and redraws the page when the database is back."""
    try:
        yield
    except DatabaseUnavailable:
        st.session_state.database_down = True  # follow_changes() said so and keeps asking
        st.stop()


def browser_timezone() -> tzinfo:
    name = st.context.timezone
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def actor() -> str | None:
    """The display name this browser session works under (until accounts exist)."""
    name = st.session_state.get("actor", "")
    return name.strip() or None


def choose_actor() -> None:
    st.sidebar.text_input(
        "Your name",
        key="actor",
        max_chars=ACTOR_MAX_CHARS,
        placeholder="Shown in ticket histories",
        help="Recorded with every change you make. Chosen once per browser session.",
    )


def remember_revision(revision: int) -> None:
    """The desk revision this page was drawn from; follow_changes() compares against it."""
    st.session_state.seen_revision = revision


@st.fragment(run_every=LIVE_SECONDS)
def follow_changes() -> None:
    """Redraw the page when someone else changed the desk, or when the database is back
    after an outage (saying so while it is away, at the top of the page). Costs one indexed
    read every LIVE_SECONDS while nothing changes. Pages call it first."""
    state = st.session_state
    try:
        revision = services.desk_revision(engine())
    except DatabaseUnavailable as exc:
        state.database_down = True
        st.warning(str(exc), icon=":material/cloud_off:")
        return
    if state.pop("database_down", False):
        st.rerun(scope="app")
    seen = state.get("seen_revision")
    if seen is not None and revision != seen:
        state.seen_revision = revision  # the rerun draws it (and notes what it drew)
        st.rerun(scope="app")
