"""The page tests' fixtures: the app, as AppTest runs it from the project root, on a new SQLite
file of the test's own (the helpers that open it are in tests/support/apptest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine

from tests.support.apptest import ROOT
from tests.support.databases import migrated


@pytest.fixture
def app_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """For AppTest: the app (run from the project root) on a new, empty SQLite file, with
    Streamlit's data caches emptied, as in a new server process (the dashboard's cache is
    keyed by the desk's revision, which another test's desk can share)."""
    st.cache_data.clear()
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("TICKETDESK_DATABASE_URL", url)
    monkeypatch.setenv("TICKETDESK_DEMO_TICKETS", "0")
    monkeypatch.chdir(ROOT)
    return url


@pytest.fixture
def app_engine(app_sqlite_url: str) -> Iterator[Engine]:
    """For AppTest: an engine on the migrated SQLite file the app opens (app_sqlite_url)."""
    yield from migrated(app_sqlite_url)
