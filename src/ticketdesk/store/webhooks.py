"""The webhook outbox: `record`, called at the end of store.tickets.save, queues one delivery
per matching active subscription in the same transaction as the change (a rolled-back change
queues nothing); subscriptions. Every function takes an open connection."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

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


def deliveries(conn: Connection, subscription_id: int) -> list[dict[str, object]]:
    d = webhook_deliveries.c
    query = select(webhook_deliveries).where(d.subscription_id == subscription_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(d.id))]
