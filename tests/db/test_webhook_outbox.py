"""The webhook outbox on both backends: every saved change queues one delivery per matching
active subscription in its own transaction; internal notes only for internal subscriptions;
a rolled-back change queues nothing; private targets refused unless allowed."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import Engine

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services import webhooks as webhook_service
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.db import run_transaction


def test_each_change_queues_its_event(
    engine: Engine, admin: Account, requester: Account, now: datetime
) -> None:
    every = ("ticket.created", "ticket.changed", "message.added")
    public, _ = webhook_service.subscribe(
        engine, admin, "http://127.0.0.1:9/hook", every, False, True, now
    )
    internal, _ = webhook_service.subscribe(
        engine, admin, "http://127.0.0.1:9/all", every, True, True, now
    )
    ticket = ticket_service.create_ticket(engine, requester, "Broken", "Low", now)
    ticket_service.update_ticket(engine, admin, ticket.id, TicketChange(status="In Progress"), now)
    ticket_service.add_message(engine, admin, ticket.id, "note", "secret", now)
    ticket_service.add_message(engine, admin, ticket.id, "reply", "hello", now)
    seen = [d["event"] for d in webhook_service.delivery_log(engine, admin, public)]
    assert seen == ["ticket.created", "ticket.changed", "message.added"]
    log = webhook_service.delivery_log(engine, admin, internal)
    assert [d["event"] for d in log] == [
        "ticket.created",
        "ticket.changed",
        "message.added",
        "message.added",
    ]
    assert json.loads(str(log[2]["payload"]))["data"]["message"]["body"] == "secret"
    assert len({d["webhook_id"] for d in log}) == 4


def test_a_rolled_back_change_queues_nothing(
    engine: Engine, admin: Account, requester: Account, now: datetime
) -> None:
    sub, _ = webhook_service.subscribe(
        engine, admin, "http://127.0.0.1:9/hook", ("ticket.created",), False, True, now
    )
    from ticketdesk.domain import tickets as rules

    def work(conn: object) -> None:
        outcome = rules.file_ticket("Gone", rules.Priority.LOW, now, requester.name, requester.id)
        ticket_store.save(conn, None, outcome, requester, now)  # type: ignore[arg-type]
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        run_transaction(engine, work)
    assert webhook_service.delivery_log(engine, admin, sub) == []


def test_loopback_targets_need_an_admin_s_permission(
    engine: Engine, admin: Account, now: datetime
) -> None:
    with pytest.raises(ValidationError, match="private or loopback"):
        webhook_service.subscribe(
            engine, admin, "http://127.0.0.1:9/hook", ("ticket.created",), False, False, now
        )
