"""Where the database is: TICKETDESK_DATABASE_URL, or the embedded SQLite default."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

DEFAULT_SQLITE_PATH = Path("data") / "ticketdesk.db"
"""The embedded default, relative to the directory the app is started from."""


def database_url(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    url = env.get("TICKETDESK_DATABASE_URL", "").strip()
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return f"sqlite:///{DEFAULT_SQLITE_PATH.resolve()}"


def files_location(database: str, environ: dict[str, str] | None = None) -> str:
    """Where attachments' bytes go: TICKETDESK_FILES_URL (`s3://bucket/prefix`), else the
    directory TICKETDESK_FILES_DIR, else `files` beside the SQLite file of `database` (the
    embedded default: data/files), else data/files under the directory the app starts from."""
    env = os.environ if environ is None else environ
    url = env.get("TICKETDESK_FILES_URL", "").strip()
    if url:
        if not url.startswith("s3://"):
            raise ValueError(f"TICKETDESK_FILES_URL must look like s3://bucket/prefix, not {url!r}")
        return url
    folder = env.get("TICKETDESK_FILES_DIR", "").strip()
    if folder:
        return str(Path(folder).resolve())
    parsed = make_url(database)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(Path(str(parsed.database)).resolve().parent / "files")
    return str((DEFAULT_SQLITE_PATH.parent / "files").resolve())


def base_url(environ: dict[str, str] | None = None) -> str:
    """The desk's address as its users reach it (TICKETDESK_BASE_URL, e.g.
    https://desk.example.com), without a trailing slash; "" when unset, and links are then
    paths on the desk's own origin."""
    env = os.environ if environ is None else environ
    url = env.get("TICKETDESK_BASE_URL", "").strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise ValueError(f"TICKETDESK_BASE_URL must start with http:// or https://, not {url!r}")
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def demo_tickets_on_first_start(environ: dict[str, str] | None = None) -> int:
    """How many demo tickets a new, empty database gets: TICKETDESK_DEMO_TICKETS, default 100;
    0 starts empty."""
    env = os.environ if environ is None else environ
    raw = env.get("TICKETDESK_DEMO_TICKETS", "").strip()
    if not raw:
        return 100
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"TICKETDESK_DEMO_TICKETS must be a whole number, not {raw!r}") from None
    if count < 0:
        raise ValueError("TICKETDESK_DEMO_TICKETS cannot be negative")
    return count


def api_rate_per_minute(environ: dict[str, str] | None = None) -> int:
    """Requests a minute each API token may make: TICKETDESK_API_RATE_PER_MINUTE, default
    600 (bursts up to as many)."""
    env = os.environ if environ is None else environ
    raw = env.get("TICKETDESK_API_RATE_PER_MINUTE", "").strip()
    if not raw:
        return 600
    try:
        rate = int(raw)
    except ValueError:
        raise ValueError(
            f"TICKETDESK_API_RATE_PER_MINUTE must be a whole number, not {raw!r}"
        ) from None
    if rate < 1:
        raise ValueError("TICKETDESK_API_RATE_PER_MINUTE must be at least 1")
    return rate
