"""The webhook worker: takes due deliveries from the outbox (store/webhooks.py), signs each per
Standard Webhooks and POSTs it, outside any transaction, so that a slow receiver holds no lock
and never slows a page or an API call.

Each pass claims a batch in one short transaction (a lease: the delivery's next try moves to
after the HTTP timeout; a worker killed meanwhile leaves it to be taken again, with the same
webhook-id: at least once), then records each outcome in a transaction of its own. Order per
ticket: a later delivery of the same ticket to the same subscription waits while an earlier one
is pending. Failures are retried with exponential back-off; a subscription failing for a day is
disabled (the admin page shows why).

The target address is checked again here, at delivery time, and the request goes to the very
address that was checked (no second lookup a DNS rebinding could answer differently);
redirects are not followed."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import Engine
from standardwebhooks import Webhook

from ticketdesk.config import WebhookSettings
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.services import webhooks as webhook_service
from ticketdesk.store import webhooks as store
from ticketdesk.store.db import run_transaction

BATCH = 20
LEASE_MARGIN_S = 5.0
USER_AGENT = "ticketdesk-webhooks/1"


class Refused(Exception):
    """The target may not be reached (private address not allowed, or it does not resolve)."""


def backoff(settings: WebhookSettings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2 base, 4 base...; at most the cap."""
    return timedelta(
        seconds=min(settings.retry_base_s * 2 ** (attempts - 1), settings.max_backoff_s)
    )


def resolve(url: str, allow_private: bool) -> tuple[str, str]:
    """The URL rewritten to the address its host resolves to, and the host name (for the
    Host header and TLS); Refused when the address is private and that is not allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise Refused(f"{host} cannot be resolved ({exc})") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not allow_private and any(not a.is_global for a in addresses):
        raise Refused(f"{host} resolves to a private or loopback address, which is not allowed")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host


def post(client: httpx.Client, claimed: store.Claimed, now: datetime) -> httpx.Response:
    """Sign and POST one delivery (Refused before any connection to a forbidden target)."""
    target, host = resolve(claimed.url, claimed.allow_private)
    port = urlsplit(claimed.url).port
    signature = Webhook(claimed.secret).sign(claimed.webhook_id, now, claimed.payload)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": host if port is None else f"{host}:{port}",
        "webhook-id": claimed.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return client.post(
        target,
        content=claimed.payload.encode(),
        headers=headers,
        extensions={"sni_hostname": host},
    )


def deliver_due(
    engine: Engine,
    client: httpx.Client,
    settings: WebhookSettings,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """One pass: claim the due deliveries and send them; how many were attempted."""
    now = clock()
    lease = now + timedelta(seconds=settings.timeout_s + LEASE_MARGIN_S)
    batch = run_transaction(engine, lambda conn: store.claim_due(conn, now, lease, BATCH))
    for claimed in batch:
        deliver_one(engine, client, settings, claimed, clock)
    return len(batch)


def deliver_one(
    engine: Engine,
    client: httpx.Client,
    settings: WebhookSettings,
    claimed: store.Claimed,
    clock: Callable[[], datetime],
) -> None:
    started = time.perf_counter()
    status: int | None = None
    try:
        response = post(client, claimed, datetime.now(UTC))  # the real sending time
        status = response.status_code
        error = "" if 200 <= status < 300 else f"HTTP {status}"
    except Refused as exc:
        error = f"Refused: {exc}"
    except httpx.TimeoutException:
        error = f"Timed out after {settings.timeout_s:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = (time.perf_counter() - started) * 1000
    now = clock()
    if not error and status is not None:
        run_transaction(
            engine, lambda conn: store.delivered(conn, claimed, status, duration_ms, now)
        )
        return
    retry_at = now + backoff(settings, claimed.attempts)
    disable_after = timedelta(seconds=settings.disable_after_s)
    run_transaction(
        engine,
        lambda conn: store.failed(
            conn, claimed, status, duration_ms, error, retry_at, now, disable_after
        ),
    )


def make_client(settings: WebhookSettings) -> httpx.Client:
    return httpx.Client(timeout=settings.timeout_s, follow_redirects=False, trust_env=False)


PRUNE_EVERY = timedelta(hours=1)
"""How often a worker deletes the deliveries delivered longer ago than the retention."""


def run(engine: Engine, settings: WebhookSettings, stop: threading.Event) -> None:
    """Deliver until `stop` is set: a pass, then a pause of `poll_s` when it found nothing;
    when it starts and every PRUNE_EVERY, prune the delivered deliveries past
    `settings.retention`. A database that cannot be reached is waited for, never a crash."""
    pruned_at: datetime | None = None
    with make_client(settings) as client:
        while not stop.is_set():
            try:
                now = datetime.now(UTC)
                if settings.retention is not None and (
                    pruned_at is None or now - pruned_at >= PRUNE_EVERY
                ):
                    webhook_service.prune_delivered(engine, now, settings.retention)
                    pruned_at = now
                busy = deliver_due(engine, client, settings)
            except TicketDeskError as exc:
                print(f"ticketdesk webhooks: {exc}", file=sys.stderr, flush=True)
                busy = 0
            if not busy:
                stop.wait(settings.poll_s)
