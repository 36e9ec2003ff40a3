"""What every page needs: the engine (built once per process), the clock, error display."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from sqlalchemy import Engine

from ticketdesk import bootstrap
from ticketdesk.config import database_url, demo_tickets_on_first_start
from ticketdesk.db import make_engine
from ticketdesk.domain import DatabaseUnavailable


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
    """Show an unreachable database as a message with a retry button, never a traceback."""
    try:
        yield
    except DatabaseUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        st.button("Try again")
        st.stop()


def browser_timezone() -> tzinfo:
    name = st.context.timezone
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
