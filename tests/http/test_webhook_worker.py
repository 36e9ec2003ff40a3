"""The webhook worker as processes: `ticketdesk webhooks-worker` killed with SIGKILL in the
middle of a delivery sends it again after a restart, with the same webhook-id (at least once);
and an app server delivering to a receiver that takes 10 s (TICKETDESK_WEBHOOKS_IN_APP) answers
API calls as fast as without one."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.app_server import run_app
from tests.support.databases import BACKENDS, migrated, postgres_schema
from tests.support.receiver import Receiver
from tests.support.signin import add_person
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services import tokens as token_service
from ticketdesk.services import webhooks as webhook_service

EVERY = ("ticket.created", "ticket.changed", "message.added")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tickets.db'}"
        return
    with postgres_schema() as url:
        yield url


def start_worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "TICKETDESK_DATABASE_URL": url,
        "TICKETDESK_WEBHOOK_TIMEOUT_S": "2",  # a lease of 2 + 5 s
        "TICKETDESK_WEBHOOK_POLL_S": "0.1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ticketdesk.cli", "webhooks-worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_a_delivery_survives_a_killed_worker(
    database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.delays = [30.0]  # the first request hangs: the worker is killed meanwhile
    for engine in migrated(database_url):
        admin = add_person(engine, "admin").account
        requester = add_person(engine, "requester").account
        when = datetime.now(UTC)
        sub, secret = webhook_service.subscribe(
            engine, admin, receiver.url, EVERY, False, True, when
        )
        ticket_service.create_ticket(engine, requester, "Broken", "Low", when)
        worker = start_worker(database_url, tmp_path / "worker.log")
        try:
            [first] = receiver.wait_for(1, 30)
            worker.send_signal(signal.SIGKILL)  # mid-delivery: no answer was read
            worker.wait(10)
            [logged] = webhook_service.delivery_log(engine, admin, sub)
            assert logged["state"] == "pending"
            worker = start_worker(database_url, tmp_path / "worker.log")
            _, second = receiver.wait_for(2, 30)  # after the lease (7 s) ran out
            deadline = time.monotonic() + 10
            while webhook_service.delivery_log(engine, admin, sub)[0]["state"] != "delivered":
                assert time.monotonic() < deadline, "the delivery was never recorded"
                time.sleep(0.1)
        finally:
            worker.kill()
            worker.wait(10)
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        assert second.verified(secret)["type"] == "ticket.created"
        [logged] = webhook_service.delivery_log(engine, admin, sub)
        assert (logged["attempts"], logged["last_status"]) == (2, 200)


def test_a_slow_receiver_does_not_slow_the_api(receiver: Receiver, tmp_path: Path) -> None:
    receiver.delays = [10.0] * 100  # every request takes 10 s
    env = {
        "TICKETDESK_WEBHOOKS_IN_APP": "1",
        "TICKETDESK_WEBHOOK_TIMEOUT_S": "15",
        "TICKETDESK_WEBHOOK_POLL_S": "0.1",
    }
    with run_app(tmp_path, demo_tickets=0, extra_env=env) as server:
        admin = add_person(server.engine, "admin").account
        token = token_service.create_token(
            server.engine, admin, "tests", 1, False, datetime.now(UTC)
        ).token
        with httpx.Client(
            base_url=server.url + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as client:

            def creates(n: int) -> list[float]:
                took = []
                for i in range(n):
                    started = time.perf_counter()
                    answer = client.post("/tickets", json={"issue": f"Load {i}", "priority": "Low"})
                    took.append(time.perf_counter() - started)
                    assert answer.status_code == 201, answer.text
                return took

            creates(5)  # warm up
            without = statistics.median(creates(20))
            webhook_service.subscribe(
                server.engine, admin, receiver.url, EVERY, False, True, datetime.now(UTC)
            )
            slow = creates(1)
            receiver.wait_for(1, 10)  # the worker is now waiting on the slow receiver
            with_slow = statistics.median(slow + creates(20))
            assert len(receiver.received) < 5  # still busy with the first ones, 10 s each
    assert with_slow / without < 1.5, (without, with_slow)
