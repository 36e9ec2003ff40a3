"""The webhook worker against a real receiver on loopback, on both backends: signed deliveries
the standardwebhooks library verifies, retries with exponential back-off after 500s and after
timeouts (same webhook-id), order per ticket, nothing for a rolled-back change, the target
checked again at delivery time, a subscription disabled after a day of failures, redelivery.

The worker's clock is the test's: each pass is run at a chosen instant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Connection, Engine

from tests.support.receiver import Receiver
from ticketdesk.config import WebhookSettings
from ticketdesk.domain import tickets as rules
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services import webhook_worker
from ticketdesk.services import webhooks as webhook_service
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store import webhooks as webhook_store
from ticketdesk.store.db import run_transaction

EVERY = ("ticket.created", "ticket.changed", "message.added")
SETTINGS = WebhookSettings(timeout_s=0.5, retry_base_s=60, max_backoff_s=3600)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with webhook_worker.make_client(SETTINGS) as made:
        yield made


def subscribe(engine: Engine, admin: Account, receiver: Receiver, now: datetime) -> tuple[int, str]:
    return webhook_service.subscribe(engine, admin, receiver.url, EVERY, False, True, now)


def pass_at(engine: Engine, client: httpx.Client, when: datetime, **settings: float) -> int:
    chosen = WebhookSettings(**{**SETTINGS.__dict__, **settings})
    return webhook_worker.deliver_due(engine, client, chosen, lambda: when)


def test_a_delivery_is_signed_per_standard_webhooks(
    engine: Engine,
    admin: Account,
    requester: Account,
    receiver: Receiver,
    client: httpx.Client,
    now: datetime,
) -> None:
    sub, secret = subscribe(engine, admin, receiver, now)
    ticket = ticket_service.create_ticket(engine, requester, "Broken printer", "Low", now)
    assert pass_at(engine, client, now) == 1
    [request] = receiver.wait_for(1, 5)
    payload = request.verified(secret)
    assert payload["type"] == "ticket.created"
    assert payload["data"]["ticket"]["id"] == ticket.id  # type: ignore[index]
    assert payload["data"]["ticket"]["issue"] == "Broken printer"  # type: ignore[index]
    assert request.path == "/hook"
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    assert request.headers["webhook-id"] == logged["webhook_id"]
    assert logged["state"] == "delivered"
    assert logged["last_status"] == 200
    assert logged["attempts"] == 1
    assert logged["next_try_at"] is None
    assert isinstance(logged["last_duration_ms"], float)


def test_500s_are_retried_with_exponential_backoff_and_the_same_id(
    engine: Engine,
    admin: Account,
    requester: Account,
    receiver: Receiver,
    client: httpx.Client,
    now: datetime,
) -> None:
    receiver.statuses = [500, 503, 200]
    sub, secret = subscribe(engine, admin, receiver, now)
    ticket_service.create_ticket(engine, requester, "Broken", "Low", now)
    assert pass_at(engine, client, now) == 1
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    assert (logged["state"], logged["last_status"]) == ("pending", 500)
    assert logged["next_try_at"] == now + timedelta(seconds=60)  # the base
    assert pass_at(engine, client, now + timedelta(seconds=59)) == 0  # not due yet
    assert pass_at(engine, client, now + timedelta(seconds=60)) == 1
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    assert logged["last_status"] == 503
    assert logged["next_try_at"] == now + timedelta(seconds=60 + 120)  # twice the base
    assert pass_at(engine, client, now + timedelta(seconds=179)) == 0
    assert pass_at(engine, client, now + timedelta(seconds=180)) == 1
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    assert (logged["state"], logged["last_status"], logged["attempts"]) == ("delivered", 200, 3)
    requests = receiver.wait_for(3, 5)
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    for request in requests:
        request.verified(secret)


def test_a_timeout_is_retried(
    engine: Engine,
    admin: Account,
    requester: Account,
    receiver: Receiver,
    client: httpx.Client,
    now: datetime,
) -> None:
    receiver.delays = [2.0]  # longer than the worker's 0.5 s timeout
    sub, _ = subscribe(engine, admin, receiver, now)
    ticket_service.create_ticket(engine, requester, "Broken", "Low", now)
    assert pass_at(engine, client, now) == 1
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    assert logged["state"] == "pending"
    assert logged["last_status"] is None
    assert "Timed out after 0.5 s" in str(logged["last_error"])
    assert pass_at(engine, client, now + timedelta(seconds=60)) == 1
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    assert (logged["state"], logged["last_status"]) == ("delivered", 200)
    first, second = receiver.wait_for(2, 5)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_a_later_delivery_of_a_ticket_waits_for_its_earlier_one(
    engine: Engine,
    admin: Account,
    requester: Account,
    receiver: Receiver,
    client: httpx.Client,
    now: datetime,
) -> None:
    receiver.statuses = [500]  # the first request fails once
    subscribe(engine, admin, receiver, now)
    first = ticket_service.create_ticket(engine, requester, "First", "Low", now)
    ticket_service.update_ticket(engine, admin, first.id, TicketChange(status="In Progress"), now)
    second = ticket_service.create_ticket(engine, requester, "Second", "Low", now)
    assert pass_at(engine, client, now) == 2  # first's creation (fails) and second's
    assert pass_at(engine, client, now + timedelta(seconds=60)) == 1  # first's creation
    assert pass_at(engine, client, now + timedelta(seconds=60)) == 1  # then its change
    seen = [
        (r.headers["webhook-id"], _event(r.body), _ticket(r.body)) for r in receiver.wait_for(4, 5)
    ]
    assert [(event, ticket) for _, event, ticket in seen] == [
        ("ticket.created", first.id),
        ("ticket.created", second.id),
        ("ticket.created", first.id),
        ("ticket.changed", first.id),
    ]
    assert seen[0][0] == seen[2][0]


def test_a_rolled_back_change_delivers_nothing(
    engine: Engine,
    admin: Account,
    requester: Account,
    receiver: Receiver,
    client: httpx.Client,
    now: datetime,
) -> None:
    subscribe(engine, admin, receiver, now)

    def work(conn: Connection) -> None:
        outcome = rules.file_ticket("Gone", rules.Priority.LOW, now, requester.name, requester.id)
        ticket_store.save(conn, None, outcome, requester, now)
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        run_transaction(engine, work)
    assert pass_at(engine, client, now + timedelta(days=1)) == 0
    assert receiver.received == []


def test_a_private_target_is_refused_at_delivery_time(
    engine: Engine,
    admin: Account,
    requester: Account,
    receiver: Receiver,
    client: httpx.Client,
    now: datetime,
) -> None:
    # As if the host had resolved to a public address when subscribed, and to loopback now.
    sub = run_transaction(
        engine,
        lambda conn: webhook_store.insert_subscription(
            conn, receiver.url, "whsec_" + "A" * 32, EVERY, False, False, now
        ),
    )
    ticket_service.create_ticket(engine, requester, "Broken", "Low", now)
    assert pass_at(engine, client, now) == 1
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    assert logged["state"] == "pending"
    assert "private or loopback address" in str(logged["last_error"])
    assert receiver.received == []


def test_a_day_of_failures_disables_the_subscription(
    engine: Engine,
    admin: Account,
    requester: Account,
    receiver: Receiver,
    client: httpx.Client,
    now: datetime,
) -> None:
    receiver.statuses = [500] * 10
    sub, _ = subscribe(engine, admin, receiver, now)
    ticket_service.create_ticket(engine, requester, "Broken", "Low", now)
    half_a_day = 12 * 3600.0
    retries = {"retry_base_s": half_a_day, "max_backoff_s": half_a_day}
    assert pass_at(engine, client, now, **retries) == 1
    assert pass_at(engine, client, now + timedelta(hours=12), **retries) == 1
    [listed] = webhook_service.subscriptions(engine, admin)
    assert listed["active"] is True
    assert listed["failing_since"] == now
    assert pass_at(engine, client, now + timedelta(hours=24), **retries) == 1
    [listed] = webhook_service.subscriptions(engine, admin)
    assert listed["active"] is False
    assert "every delivery failed for 24 hours" in str(listed["disabled_reason"])
    assert pass_at(engine, client, now + timedelta(hours=36), **retries) == 0
    webhook_service.set_active(engine, admin, sub, True)
    [listed] = webhook_service.subscriptions(engine, admin)
    assert (listed["active"], listed["failing_since"], listed["disabled_reason"]) == (
        True,
        None,
        None,
    )
    assert pass_at(engine, client, now + timedelta(hours=36), **retries) == 1
    assert len(receiver.wait_for(4, 5)) == 4


def test_redelivery_sends_the_same_delivery_again(
    engine: Engine,
    admin: Account,
    requester: Account,
    receiver: Receiver,
    client: httpx.Client,
    now: datetime,
) -> None:
    sub, secret = subscribe(engine, admin, receiver, now)
    ticket_service.create_ticket(engine, requester, "Broken", "Low", now)
    assert pass_at(engine, client, now) == 1
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    later = now + timedelta(hours=2)
    webhook_service.redeliver(engine, admin, int(str(logged["id"])), later)
    assert pass_at(engine, client, later) == 1
    first, second = receiver.wait_for(2, 5)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.verified(secret)["type"] == "ticket.created"
    [logged] = webhook_service.delivery_log(engine, admin, sub)
    assert (logged["state"], logged["attempts"], logged["delivered_at"]) == ("delivered", 2, later)


def _event(body: bytes) -> str:
    return str(json.loads(body)["type"])


def _ticket(body: bytes) -> int:
    return int(json.loads(body)["data"]["ticket"]["id"])
