"""The whole suite: a marker for each folder, so that one layer can be chosen by folder
(`pytest tests/unit`) or by marker (`pytest -m "not e2e"`).

The folders mirror the layers: unit (no database), db (SQLite, and PostgreSQL when
TICKETDESK_TEST_POSTGRES_URL is set), pages (AppTest), http (the real server over HTTP) and
e2e (the real server in Chromium). Helpers live in tests/support/, never in a conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

LAYERS = ("unit", "db", "pages", "http", "e2e")
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder's layer (tests/db/... is `db`)."""
    for item in items:
        if item.path.is_relative_to(TESTS):
            folder = item.path.relative_to(TESTS).parts[0]
            if folder in LAYERS:
                item.add_marker(folder)
