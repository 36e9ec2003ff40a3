"""The webhook outbox: `record`, called at the end of store.tickets.save, queues one delivery
per matching active subscription in the same transaction as the change (a rolled-back change
queues nothing); subscriptions. Every function takes an open connection."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from ticketdesk.domain.tickets import MessageKind, Outcome, Ticket, ticket_code
from ticketdesk.store.schema import webhook_deliveries, webhook_subscriptions

EVENTS = ("ticket.created", "ticket.changed", "message.added")


@dataclass(frozen=True)
class Subscription:
    id: int
    url: str
    events: tuple[str, ...]
    internal: bool
    allow_private: bool
    active: bool


def _ticket_data(ticket: Ticket) -> dict[str, object]:
    return {
        "id": ticket.id,
        "code": ticket_code(ticket.id),
        "issue": ticket.issue,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "assignee": ticket.assignee,
        "requester": ticket.requester,
        "version": ticket.version,
    }


def record(
    conn: Connection, before: Ticket | None, after: Ticket, outcome: Outcome, now: datetime
) -> int:
    """Queue the deliveries of this saved change; how many were queued."""
    message = outcome.message
    if before is None:
        event = "ticket.created"
    elif message is not None:
        event = "message.added"
    else:
        event = "ticket.changed"
    internal = message is not None and message.kind is MessageKind.NOTE
    data: dict[str, object] = {"ticket": _ticket_data(after)}
    if message is not None:
        data["message"] = {"kind": message.kind.value, "body": message.body}
    if before is not None and message is None:
        data["changes"] = [
            {"field": e.kind.value, "old": e.old_value, "new": e.new_value} for e in outcome.events
        ]
    payload = json.dumps({"type": event, "timestamp": now.isoformat(), "data": data})
    rows = [
        {
            "subscription_id": sub.id,
            "webhook_id": f"msg_{uuid.uuid4().hex}",
            "event": event,
            "ticket_id": after.id,
            "payload": payload,
            "created_at": now,
            "state": "pending",
            "attempts": 0,
            "next_try_at": now,
        }
        for sub in active_subscriptions(conn)
        if event in sub.events and (sub.internal or not internal)
    ]
    if rows:
        conn.execute(insert(webhook_deliveries), rows)
    return len(rows)


def active_subscriptions(conn: Connection) -> list[Subscription]:
    s = webhook_subscriptions.c
    query = select(s.id, s.url, s.events, s.internal, s.allow_private, s.active).where(
        s.active.is_(True)
    )
    return [
        Subscription(
            r.id, r.url, tuple(r.events.split(",")), bool(r.internal), bool(r.allow_private), True
        )
        for r in conn.execute(query.order_by(s.id))
    ]


def insert_subscription(
    conn: Connection,
    url: str,
    secret: str,
    events: tuple[str, ...],
    internal: bool,
    allow_private: bool,
    now: datetime,
) -> int:
    return int(
        conn.execute(
            insert(webhook_subscriptions)
            .values(
                url=url,
                secret=secret,
                events=",".join(events),
                internal=internal,
                allow_private=allow_private,
                active=True,
                created_at=now,
            )
            .returning(webhook_subscriptions.c.id)
        ).scalar_one()
    )


def deliveries(
    conn: Connection, subscription_id: int, latest: int | None = None
) -> list[dict[str, object]]:
    """A subscription's deliveries, oldest first; or only its `latest`, newest first."""
    d = webhook_deliveries.c
    query = select(webhook_deliveries).where(d.subscription_id == subscription_id)
    if latest is not None:
        query = query.order_by(d.id.desc()).limit(latest)
    else:
        query = query.order_by(d.id)
    return [dict(r._mapping) for r in conn.execute(query)]


# -- delivery (the worker: services/webhook_worker.py) ---------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds until `lease_until` (then another worker may take it again,
    with the same webhook-id: at least once)."""

    id: int
    subscription_id: int
    webhook_id: str
    payload: str
    url: str
    secret: str
    allow_private: bool
    attempts: int


def claim_due(conn: Connection, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Take up to `limit` due deliveries of active subscriptions, each the earliest still
    pending of its ticket and subscription (a later one waits: order per ticket), and lease
    them until `lease_until`. PostgreSQL: rows other workers hold are skipped (SKIP LOCKED);
    SQLite has one writer at a time anyway."""
    d = webhook_deliveries.c
    s = webhook_subscriptions.c
    earlier = webhook_deliveries.alias("earlier")
    e = earlier.c
    blocked = (
        select(e.id)
        .where(
            e.subscription_id == d.subscription_id,
            e.ticket_id == d.ticket_id,
            e.state == "pending",
            e.id < d.id,
        )
        .exists()
    )
    query = (
        select(d.id, d.subscription_id, d.webhook_id, d.payload, d.attempts)
        .join(webhook_subscriptions, s.id == d.subscription_id)
        .where(d.state == "pending", d.next_try_at <= now, s.active.is_(True), ~blocked)
        .order_by(d.next_try_at, d.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=webhook_deliveries, skip_locked=True)
    rows = conn.execute(query).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    conn.execute(
        update(webhook_deliveries)
        .where(d.id.in_(ids))
        .values(next_try_at=lease_until, attempts=d.attempts + 1)
    )
    subs = {
        r.id: r
        for r in conn.execute(
            select(s.id, s.url, s.secret, s.allow_private).where(
                s.id.in_({r.subscription_id for r in rows})
            )
        )
    }
    return [
        Claimed(
            r.id,
            r.subscription_id,
            r.webhook_id,
            r.payload,
            subs[r.subscription_id].url,
            subs[r.subscription_id].secret,
            bool(subs[r.subscription_id].allow_private),
            r.attempts + 1,
        )
        for r in rows
    ]


def delivered(
    conn: Connection, claimed: Claimed, status: int, duration_ms: float, now: datetime
) -> None:
    d = webhook_deliveries.c
    conn.execute(
        update(webhook_deliveries)
        .where(d.id == claimed.id)
        .values(
            state="delivered",
            next_try_at=None,
            last_status=status,
            last_duration_ms=duration_ms,
            last_error=None,
            delivered_at=now,
        )
    )
    conn.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id == claimed.subscription_id)
        .values(failing_since=None)
    )


def failed(
    conn: Connection,
    claimed: Claimed,
    status: int | None,
    duration_ms: float | None,
    error: str,
    next_try_at: datetime,
    now: datetime,
    disable_after: timedelta,
) -> bool:
    """Record a failed attempt and when to try again; disable the subscription when it has
    been failing for `disable_after`. Whether it was disabled now."""
    d = webhook_deliveries.c
    s = webhook_subscriptions.c
    conn.execute(
        update(webhook_deliveries)
        .where(d.id == claimed.id)
        .values(
            next_try_at=next_try_at,
            last_status=status,
            last_duration_ms=duration_ms,
            last_error=error[:1000],
        )
    )
    since = conn.execute(
        select(s.failing_since, s.active).where(s.id == claimed.subscription_id)
    ).one()
    if since.failing_since is None:
        conn.execute(
            update(webhook_subscriptions)
            .where(s.id == claimed.subscription_id)
            .values(failing_since=now)
        )
        return False
    if since.active and now - since.failing_since >= disable_after:
        hours = disable_after.total_seconds() / 3600
        reason = (
            f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC: every delivery failed for "
            f"{hours:g} hours (last error: {error[:200]})."
        )
        conn.execute(
            update(webhook_subscriptions)
            .where(s.id == claimed.subscription_id)
            .values(active=False, disabled_reason=reason)
        )
        return True
    return False


def subscriptions(conn: Connection) -> list[dict[str, object]]:
    """Every subscription, without its secret, newest first."""
    s = webhook_subscriptions.c
    query = select(
        s.id,
        s.url,
        s.events,
        s.internal,
        s.allow_private,
        s.active,
        s.created_at,
        s.failing_since,
        s.disabled_reason,
    ).order_by(s.id.desc())
    return [dict(r._mapping) for r in conn.execute(query)]


def set_active(conn: Connection, subscription_id: int, active: bool) -> bool:
    """Enable (clearing the failure record) or disable a subscription; whether it exists."""
    s = webhook_subscriptions.c
    values: dict[str, object] = {"active": active}
    if active:
        values.update(failing_since=None, disabled_reason=None)
    else:
        values["disabled_reason"] = "Disabled by an admin."
    done = conn.execute(
        update(webhook_subscriptions).where(s.id == subscription_id).values(**values)
    )
    return bool(done.rowcount)


def redeliver(conn: Connection, delivery_id: int, now: datetime) -> bool:
    """Queue a delivery again (same webhook-id), due now; whether it exists."""
    d = webhook_deliveries.c
    done = conn.execute(
        update(webhook_deliveries)
        .where(d.id == delivery_id)
        .values(state="pending", next_try_at=now, delivered_at=None)
    )
    return bool(done.rowcount)


def prune_delivered(conn: Connection, delivered_before: datetime, limit: int) -> int:
    """Delete up to `limit` deliveries (oldest first) delivered before `delivered_before`;
    returns how many. Pending ones are never pruned, whatever their age. PostgreSQL: rows
    another pruner (or a redelivery) holds are skipped."""
    d = webhook_deliveries.c
    due = (
        select(d.id)
        .where(d.state == "delivered", d.delivered_at < delivered_before)
        .order_by(d.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return 0
    return conn.execute(
        delete(webhook_deliveries).where(d.id.in_(ids), d.state == "delivered")
    ).rowcount
