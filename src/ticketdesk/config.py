"""Where the database is: TICKETDESK_DATABASE_URL, or the embedded SQLite default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class WebhookSettings:
    """How the webhook worker delivers: the HTTP timeout, the first retry's delay (doubled
    on each further failure, at most `max_backoff_s`), how often it looks for due deliveries,
    after how long a failing subscription is disabled, and whether the app server runs the
    worker itself (otherwise `ticketdesk webhooks-worker` does)."""

    timeout_s: float = 10.0
    retry_base_s: float = 30.0
    max_backoff_s: float = 3600.0
    poll_s: float = 1.0
    disable_after_s: float = 24 * 3600.0
    in_app: bool = False


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be more than 0")
    return value


def webhook_settings(environ: Mapping[str, str] | None = None) -> WebhookSettings:
    """TICKETDESK_WEBHOOK_TIMEOUT_S (default 10), TICKETDESK_WEBHOOK_RETRY_BASE_S (30),
    TICKETDESK_WEBHOOK_POLL_S (1) and TICKETDESK_WEBHOOKS_IN_APP (1/true/yes: the app server
    delivers; default no)."""
    env = os.environ if environ is None else environ
    return WebhookSettings(
        timeout_s=_positive(env, "TICKETDESK_WEBHOOK_TIMEOUT_S", 10.0),
        retry_base_s=_positive(env, "TICKETDESK_WEBHOOK_RETRY_BASE_S", 30.0),
        poll_s=_positive(env, "TICKETDESK_WEBHOOK_POLL_S", 1.0),
        in_app=env.get("TICKETDESK_WEBHOOKS_IN_APP", "").strip().lower() in ("1", "true", "yes"),
    )
