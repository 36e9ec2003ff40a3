"""Webhook subscriptions (admins): a URL and the events it gets; deliveries are queued by
store.tickets.save in the change's own transaction (store/webhooks.py). Private and loopback
targets are refused unless the admin allows them (a desk must not become a way into its own
network)."""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine

from ticketdesk.domain.accounts import Account, Action, require
from ticketdesk.domain.errors import ValidationError
from ticketdesk.store import webhooks as store
from ticketdesk.store.db import read, run_transaction

EVENTS = store.EVENTS


def private_target(url: str) -> bool:
    """Whether any address the URL's host resolves to is private, loopback, link-local or
    otherwise not on the public internet."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise ValidationError(f"The host {host[:100]!r} cannot be resolved.") from None
    return any(not ipaddress.ip_address(info[4][0]).is_global for info in infos)


def subscribe(
    engine: Engine,
    by: Account,
    url: str,
    events: tuple[str, ...],
    internal: bool,
    allow_private: bool,
    now: datetime,
) -> tuple[int, str]:
    """A new subscription; returns its ID and signing secret (whsec_…, Standard Webhooks)."""
    require(by, Action.CHANGE_SETTINGS)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise ValidationError("Give an http:// or https:// URL (at most 2000 characters).")
    unknown = set(events) - set(EVENTS)
    if not events or unknown:
        raise ValidationError(f"Choose events among {', '.join(EVENTS)}.")
    if not allow_private and private_target(url):
        raise ValidationError(
            f"{parts.hostname} is a private or loopback address; an admin must allow that "
            "explicitly."
        )
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

    def work(conn: Connection) -> int:
        return store.insert_subscription(
            conn, url.strip(), secret, tuple(events), internal, allow_private, now
        )

    return run_transaction(engine, work), secret


def delivery_log(
    engine: Engine, by: Account, subscription_id: int, latest: int | None = None
) -> list[dict[str, object]]:
    """A subscription's deliveries, oldest first; or only its `latest`, newest first."""
    require(by, Action.CHANGE_SETTINGS)
    return read(engine, lambda conn: store.deliveries(conn, subscription_id, latest))


def subscriptions(engine: Engine, by: Account) -> list[dict[str, object]]:
    """Every subscription (never its secret), newest first."""
    require(by, Action.CHANGE_SETTINGS)
    return read(engine, store.subscriptions)


def set_active(engine: Engine, by: Account, subscription_id: int, active: bool) -> None:
    """Enable (its failures forgotten) or disable a subscription."""
    require(by, Action.CHANGE_SETTINGS)
    if not run_transaction(engine, lambda conn: store.set_active(conn, subscription_id, active)):
        raise ValidationError(f"There is no webhook subscription {subscription_id}.")


def redeliver(engine: Engine, by: Account, delivery_id: int, now: datetime) -> None:
    """Send a delivery again (the same webhook-id, so a receiver can tell it from a new
    event), as soon as the worker next looks."""
    require(by, Action.CHANGE_SETTINGS)
    if not run_transaction(engine, lambda conn: store.redeliver(conn, delivery_id, now)):
        raise ValidationError(f"There is no webhook delivery {delivery_id}.")


PRUNE_BATCH = 2000
"""Deliveries pruned per transaction (a backlog goes in short transactions)."""


def prune_delivered(
    engine: Engine, now: datetime, keep: timedelta, batch: int = PRUNE_BATCH
) -> int:
    """Delete the deliveries delivered more than `keep` ago (never a pending one). Returns
    how many were deleted."""
    before = now - keep
    pruned = 0
    while True:
        done = run_transaction(engine, lambda conn: store.prune_delivered(conn, before, batch))
        pruned += done
        if done < batch:
            return pruned
