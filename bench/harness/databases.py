"""The code measured and its data: a snapshot of the app, the seeded databases (a cached SQLite
file per N, or a PostgreSQL schema per run) and the agent the benchmark signs in as. Everything
here goes through the snapshot's `ticketdesk` command, never through imports."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

from bench.harness.common import BIN, ROOT, SNAPSHOT, WORK, log

SNAPSHOT_PARTS = ("ticket.py", "app_pages", "app_components", "src", ".streamlit", "docs")
BENCH_EMAIL = "bench.agent@example.com"
BENCH_PASSWORD = secrets.token_urlsafe(16)  # generated per run, never stored


def take_snapshot() -> None:
    """Copy the app (ticket.py, app_pages/, app_components/, src/, .streamlit/, docs/: the
    dashboard reads its help texts from docs/kpis.md) to
    bench/work/snapshot and run it from there, so that edits made to the work tree during a
    long run cannot change or break the code being measured half-way."""
    if SNAPSHOT.exists():
        shutil.rmtree(SNAPSHOT)
    SNAPSHOT.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SNAPSHOT_PARTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, SNAPSHOT / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, SNAPSHOT / name)


def snapshot_env() -> dict[str, str]:
    """The environment in which `ticketdesk` and `streamlit` import the snapshot's package
    (PYTHONPATH comes before the editable install of the work tree)."""
    path = [str(SNAPSHOT / "src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}


def ticketdesk(*arguments: str, stdin: str | None = None, check: bool = True) -> None:
    """The snapshot's `ticketdesk` command, its output discarded."""
    subprocess.run(
        [str(BIN / "ticketdesk"), *arguments],
        cwd=SNAPSHOT,
        env=snapshot_env(),
        input=stdin,
        text=True,
        check=check,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def sqlite_database(count: int) -> Iterator[str]:
    """A copy of the cached seeded file, so that runs never see each other's writes."""
    WORK.mkdir(parents=True, exist_ok=True)
    seeded = WORK / f"sqlite-{count}.db"
    if not seeded.exists():
        partial = WORK / f"sqlite-{count}.db.partial"
        for leftover in WORK.glob(f"sqlite-{count}.db.partial*"):
            leftover.unlink()
        seed(f"sqlite:///{partial}", count)
        partial.rename(seeded)
    else:
        log(f"using the cached {seeded.relative_to(ROOT)}")
    copy = WORK / f"run-sqlite-{count}.db"
    for old in WORK.glob(f"run-sqlite-{count}.db*"):
        old.unlink()
    shutil.copyfile(seeded, copy)
    # Migrations added since the file was seeded are applied to the copy, as they would be to a
    # real desk's database; the cache itself stays as seeded (a migration still being written
    # can change without leaving the cache behind).
    try:
        log("applying migrations to the copy")
        ticketdesk("--database-url", f"sqlite:///{copy}", "migrate")
        yield f"sqlite:///{copy}"
    finally:
        for old in WORK.glob(f"run-sqlite-{count}.db*"):
            old.unlink()


@contextlib.contextmanager
def postgres_database(count: int, base_url: str) -> Iterator[str]:
    """A dedicated schema, seeded for this run and dropped after it."""
    from sqlalchemy import create_engine, text

    schema = f"ticketdesk_bench_{count}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in base_url else "?"
    url = f"{base_url}{joiner}options=-csearch_path%3D{schema}"
    try:
        seed(url, count)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def database(backend: str, count: int, postgres_url: str) -> contextlib.AbstractContextManager[str]:
    """The database of one N on `backend`, as a context manager giving its URL."""
    if backend == "sqlite":
        return sqlite_database(count)
    return postgres_database(count, postgres_url)


def seed(url: str, count: int) -> None:
    log(f"seeding {count:,} tickets (this is done once per N for SQLite)…")
    started = time.monotonic()
    ticketdesk("--database-url", url, "seed-demo", "--count", str(count), "--seed", "1")
    log(f"seeded in {time.monotonic() - started:.0f} s")


def create_bench_account(url: str) -> None:
    """The agent the benchmark signs in as (our app needs a session; the others do not)."""
    ticketdesk(
        "--database-url",
        url,
        "create-admin",
        "--email",
        BENCH_EMAIL,
        "--name",
        "Bench Agent",
        "--password-stdin",
        stdin=BENCH_PASSWORD + "\n",
        check=False,  # a reused database may have it already
    )
