"""The database tests' fixtures: a real database each, a SQLite file and, when
TICKETDESK_TEST_POSTGRES_URL is set, a fresh PostgreSQL schema too (every test using
`database`, `engine` or an account runs once per backend), and accounts in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.blob_stores import STORE_KINDS, new_store
from tests.support.databases import BACKENDS, NOW, migrated, new_account, postgres_schema
from tests.support.receiver import Receiver, run_receiver
from tests.support.s3 import s3_server  # noqa: F401 (a fixture: the S3 store's server)
from ticketdesk.domain.accounts import Account
from ticketdesk.store.files import BlobStore


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database of the parametrised backend."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'tickets.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """An engine on a migrated, empty database."""
    yield from migrated(database)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("database", ["sqlite"] if only_sqlite else BACKENDS, indirect=True)


@pytest.fixture
def agent(engine: Engine) -> Account:
    return new_account(engine, "Ana Agent", "agent")


@pytest.fixture
def admin(engine: Engine) -> Account:
    return new_account(engine, "Ada Admin", "admin")


@pytest.fixture
def requester(engine: Engine) -> Account:
    return new_account(engine, "Rita Requester", "requester")


@pytest.fixture
def other_requester(engine: Engine) -> Account:
    return new_account(engine, "Otto Requester", "requester")


@pytest.fixture(params=STORE_KINDS)
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """A new, empty file store of each kind: a directory, and a bucket on a local S3 server
    (moto in server mode: tests/support/s3.py)."""
    return new_store(request, tmp_path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on loopback (tests/support/receiver.py)."""
    with run_receiver() as running:
        yield running
