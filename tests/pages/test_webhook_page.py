"""The Webhooks page (AppTest on a real SQLite file): an admin subscribes a URL (the secret
shown once), a loopback URL is refused unless allowed, the delivery log shows each delivery,
redelivery queues it again, disable and enable; a subscription disabled after a day of
failures is announced; the page is in no one else's menu."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, update

from tests.support.apptest import open_app, person, session_of
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services import webhooks as webhook_service
from ticketdesk.store.schema import webhook_deliveries, webhook_subscriptions

PAGE = "app_pages/webhooks.py"


def test_an_admin_subscribes_and_sees_the_secret_once(app_engine: Engine) -> None:
    ada = person(app_engine, "Ada Admin", "admin")
    at = open_app(session_of(app_engine, ada), page=PAGE)
    assert not at.exception
    at.text_input(key="webhook_url").input("http://127.0.0.1:9/hook")
    at.button[0].click().run()  # Subscribe, without allowing a private address
    assert "private or loopback address" in " ".join(e.value for e in at.error)
    assert webhook_service.subscriptions(app_engine, ada) == []
    at.text_input(key="webhook_url").input("http://127.0.0.1:9/hook")
    at.checkbox(key="webhook_allow_private").check()
    at.checkbox(key="webhook_internal").check()
    at.button[0].click().run()
    assert not at.exception
    [secret] = [c.value for c in at.code]
    assert secret.startswith("whsec_")
    [sub] = webhook_service.subscriptions(app_engine, ada)
    assert (sub["url"], sub["internal"], sub["allow_private"], sub["active"]) == (
        "http://127.0.0.1:9/hook",
        True,
        True,
        True,
    )
    assert sub["events"] == "ticket.created,ticket.changed,message.added"
    at.run()
    assert [c.value for c in at.code] == []  # shown once


def test_the_log_redelivery_and_disabling(app_engine: Engine) -> None:
    ada = person(app_engine, "Ada Admin", "admin")
    ria = person(app_engine, "Ria Requester", "requester")
    when = datetime.now(UTC)
    sub, _ = webhook_service.subscribe(
        app_engine, ada, "http://127.0.0.1:9/hook", ("ticket.created",), False, True, when
    )
    ticket_service.create_ticket(app_engine, ria, "Broken", "Low", when)
    [delivery] = webhook_service.delivery_log(app_engine, ada, sub)
    with app_engine.begin() as conn:  # as the worker records a delivered one
        conn.execute(
            update(webhook_deliveries).values(
                state="delivered", attempts=1, last_status=200, next_try_at=None
            )
        )
    at = open_app(session_of(app_engine, ada), page=PAGE)
    assert not at.exception
    [log] = at.dataframe
    rows = log.value.to_dict("records")
    assert [(r["event"], r["status"], r["code"]) for r in rows] == [
        ("ticket.created", "delivered", 200)
    ]
    at.button(key=f"webhook_redeliver_{sub}").click().run()
    [again] = webhook_service.delivery_log(app_engine, ada, sub)
    assert (again["id"], again["state"], again["webhook_id"]) == (
        delivery["id"],
        "pending",
        delivery["webhook_id"],
    )
    at.button(key=f"webhook_toggle_{sub}").click().run()
    assert webhook_service.subscriptions(app_engine, ada)[0]["active"] is False
    at.button(key=f"webhook_toggle_{sub}").click().run()
    assert webhook_service.subscriptions(app_engine, ada)[0]["active"] is True


def test_an_automatically_disabled_subscription_is_announced(app_engine: Engine) -> None:
    ada = person(app_engine, "Ada Admin", "admin")
    sub, _ = webhook_service.subscribe(
        app_engine,
        ada,
        "http://127.0.0.1:9/hook",
        ("ticket.created",),
        False,
        True,
        datetime.now(UTC),
    )
    reason = "Disabled automatically on 2026-12-01 10:00 UTC: every delivery failed for 24 hours"
    with app_engine.begin() as conn:
        conn.execute(update(webhook_subscriptions).values(active=False, disabled_reason=reason))
    at = open_app(session_of(app_engine, ada), page=PAGE)
    assert any(reason in w.value and f"Subscription {sub}" in w.value for w in at.warning)


def test_an_agent_cannot_open_the_page(app_engine: Engine) -> None:
    ana = person(app_engine, "Ana Agent", "agent")
    at = open_app(session_of(app_engine, ana), page=PAGE)  # followed as a link
    assert "Webhooks" not in " ".join(t.value for t in at.title)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)  # not among the agent's pages
    ada = person(app_engine, "Ada Admin", "admin")
    at = open_app(session_of(app_engine, ada), page=PAGE)
    assert "Webhooks" in " ".join(t.value for t in at.title)
