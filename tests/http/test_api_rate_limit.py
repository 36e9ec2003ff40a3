"""The per-token rate limit on a real server started with TICKETDESK_API_RATE_PER_MINUTE=3:
the fourth request in a burst gets 429 with Retry-After; another token is not affected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.support.app_server import AppServer, run_app
from tests.support.signin import add_person
from ticketdesk.services import tokens as token_service


@pytest.fixture(scope="module")
def slow_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    workdir = tmp_path_factory.mktemp("rate")
    env = {"TICKETDESK_API_RATE_PER_MINUTE": "3"}
    with run_app(workdir, demo_tickets=0, extra_env=env) as server:
        yield server


def _token(server: AppServer) -> str:
    person = add_person(server.engine, "agent")
    return token_service.create_token(
        server.engine, person.account, "t", 1, False, datetime.now(UTC)
    ).token


def test_a_burst_beyond_the_limit_gets_429(slow_desk: AppServer) -> None:
    first, second = _token(slow_desk), _token(slow_desk)
    with httpx.Client(base_url=slow_desk.url + "/api/v1", timeout=30) as client:
        auth = {"Authorization": f"Bearer {first}"}
        codes = [client.get("/tickets", headers=auth).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.get("/tickets", headers=auth)
        assert refused.headers["content-type"].startswith("application/problem+json")
        # 3 a minute: one more request in about 20 s.
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        other = client.get("/tickets", headers={"Authorization": f"Bearer {second}"})
        assert other.status_code == 200
