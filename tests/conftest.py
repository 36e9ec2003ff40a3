"""The whole suite: Hypothesis's profile, and a marker for each folder, so that one layer can
be chosen by folder (`pytest tests/unit`) or by marker (`pytest -m "not e2e"`).

The folders mirror the layers: unit (no database), db (SQLite, and PostgreSQL when
TICKETDESK_TEST_POSTGRES_URL is set), pages (AppTest), http (the real server over HTTP) and
e2e (the real server in Chromium). Helpers live in tests/support/, never in a conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# In CI (CI set, or HYPOTHESIS_PROFILE=ci as .ci/run sets it) the same examples every run,
# drawn from a hash of each test, so that a failure found once fails every run until it is
# fixed instead of turning CI red and then green again; a failure prints the blob that
# replays it (@reproduce_failure). Elsewhere new examples each run, to keep finding bugs.
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

LAYERS = ("unit", "db", "pages", "http", "e2e")
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder's layer (tests/db/... is `db`)."""
    for item in items:
        if item.path.is_relative_to(TESTS):
            folder = item.path.relative_to(TESTS).parts[0]
            if folder in LAYERS:
                item.add_marker(folder)
