"""Where the database is (TICKETDESK_DATABASE_URL, or the embedded SQLite default), and the
mail settings (TICKETDESK_MAIL_ADDRESS, TICKETDESK_SMTP_URL, TICKETDESK_IMAP_URL, …)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

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


DEFAULT_OUTBOX_RETENTION_DAYS = 30


def outbox_retention(environ: Mapping[str, str] | None = None) -> timedelta | None:
    """How long sent mail and delivered webhooks stay in their outboxes:
    TICKETDESK_OUTBOX_RETENTION_DAYS whole days (default 30; at least 1, as the answer to an
    unknown sender is sent once a day at most by looking at the outbox); 0 keeps them for ever
    (None)."""
    env = os.environ if environ is None else environ
    raw = env.get("TICKETDESK_OUTBOX_RETENTION_DAYS", "").strip()
    if not raw:
        return timedelta(days=DEFAULT_OUTBOX_RETENTION_DAYS)
    try:
        days = int(raw)
    except ValueError:
        raise ValueError(
            f"TICKETDESK_OUTBOX_RETENTION_DAYS must be a whole number of days, not {raw!r}"
        ) from None
    if days < 0:
        raise ValueError("TICKETDESK_OUTBOX_RETENTION_DAYS cannot be negative (0 keeps all)")
    return timedelta(days=days) if days else None


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
    retention: timedelta | None = field(
        default_factory=lambda: timedelta(days=DEFAULT_OUTBOX_RETENTION_DAYS)
    )  # TICKETDESK_OUTBOX_RETENTION_DAYS: delivered ones are pruned after this; None: kept


# -- mail ----------------------------------------------------------------------------------

DEFAULT_MAIL_ADDRESS = "ticketdesk@localhost"
DEFAULT_BASE_URL = "http://localhost:8501"


@dataclass(frozen=True)
class ServerUrl:
    """A mail server from TICKETDESK_SMTP_URL or TICKETDESK_IMAP_URL."""

    scheme: str  # smtp, smtps, imap, imaps
    host: str
    port: int
    username: str | None
    password: str | None
    path: str  # IMAP: the mailbox read (default INBOX)
    options: dict[str, str]

    @property
    def tls(self) -> bool:
        """TLS from the first byte (smtps://, imaps://)."""
        return self.scheme.endswith("s")

    def redacted(self) -> str:
        who = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}"


_DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "imap": 143, "imaps": 993}


def parse_server_url(variable: str, raw: str, schemes: tuple[str, ...]) -> ServerUrl:
    """`smtp://user:pass@host:587?starttls=required` and the like; a ValueError naming the
    variable for anything else. User and password may be %-encoded (an @ in a user name)."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in schemes:
        raise ValueError(
            f"{variable} must start with {' or '.join(s + '://' for s in schemes)}, "
            f"not {raw.split(':', 1)[0]!r}"
        )
    if not parts.hostname:
        raise ValueError(f"{variable} names no host: {parts.scheme}://host:port is needed")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"{variable} has a port that is not a number") from None
    return ServerUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        path=unquote(parts.path.lstrip("/")),
        options={k.lower(): v for k, v in parse_qsl(parts.query)},
    )


@dataclass(frozen=True)
class MailConfig:
    address: str  # TICKETDESK_MAIL_ADDRESS
    base_url: str  # TICKETDESK_BASE_URL, without a trailing slash
    smtp: ServerUrl | None  # TICKETDESK_SMTP_URL; None: nothing is sent
    imap: ServerUrl | None  # TICKETDESK_IMAP_URL; None: no fetching
    max_bytes: int  # TICKETDESK_MAIL_MAX_BYTES
    retry_seconds: float  # TICKETDESK_MAIL_RETRY_SECONDS: the back-off's base
    in_app: bool  # TICKETDESK_MAIL_IN_APP: the app server runs the worker too
    retention: timedelta | None = timedelta(days=DEFAULT_OUTBOX_RETENTION_DAYS)
    """TICKETDESK_OUTBOX_RETENTION_DAYS: sent mail is pruned after this; None: kept."""


def mail_config(environ: Mapping[str, str] | None = None) -> MailConfig:
    """The mail settings from the environment (read each time: cheap, and tests set them)."""
    env = os.environ if environ is None else environ
    address = env.get("TICKETDESK_MAIL_ADDRESS", "").strip() or DEFAULT_MAIL_ADDRESS
    if "@" not in address or any(ch.isspace() for ch in address):
        raise ValueError("TICKETDESK_MAIL_ADDRESS must be an address like support@example.com")
    smtp_raw = env.get("TICKETDESK_SMTP_URL", "").strip()
    imap_raw = env.get("TICKETDESK_IMAP_URL", "").strip()
    return MailConfig(
        address=address,
        base_url=(env.get("TICKETDESK_BASE_URL", "").strip() or DEFAULT_BASE_URL).rstrip("/"),
        smtp=parse_server_url("TICKETDESK_SMTP_URL", smtp_raw, ("smtp", "smtps"))
        if smtp_raw
        else None,
        imap=parse_server_url("TICKETDESK_IMAP_URL", imap_raw, ("imap", "imaps"))
        if imap_raw
        else None,
        max_bytes=_positive(env, "TICKETDESK_MAIL_MAX_BYTES", 25 * 1024 * 1024),
        retry_seconds=float(_positive(env, "TICKETDESK_MAIL_RETRY_SECONDS", 60, real=True)),
        in_app=env.get("TICKETDESK_MAIL_IN_APP", "1").strip() != "0",
        retention=outbox_retention(env),
    )


def _positive(env: Mapping[str, str], name: str, default: float, real: bool = False) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw) if real else int(raw)
    except ValueError:
        raise ValueError(
            f"{name} must be a {'number' if real else 'whole number'}, not {raw!r}"
        ) from None
    if value <= 0:
        raise ValueError(f"{name} must be more than 0")
    return value


def webhook_settings(environ: Mapping[str, str] | None = None) -> WebhookSettings:
    """TICKETDESK_WEBHOOK_TIMEOUT_S (default 10), TICKETDESK_WEBHOOK_RETRY_BASE_S (30),
    TICKETDESK_WEBHOOK_POLL_S (1), TICKETDESK_WEBHOOKS_IN_APP (1/true/yes: the app server
    delivers; default no) and TICKETDESK_OUTBOX_RETENTION_DAYS (outbox_retention)."""
    env = os.environ if environ is None else environ
    return WebhookSettings(
        timeout_s=float(_positive(env, "TICKETDESK_WEBHOOK_TIMEOUT_S", 10.0, real=True)),
        retry_base_s=float(_positive(env, "TICKETDESK_WEBHOOK_RETRY_BASE_S", 30.0, real=True)),
        poll_s=float(_positive(env, "TICKETDESK_WEBHOOK_POLL_S", 1.0, real=True)),
        in_app=env.get("TICKETDESK_WEBHOOKS_IN_APP", "").strip().lower() in ("1", "true", "yes"),
        retention=outbox_retention(env),
    )
