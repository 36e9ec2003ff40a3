"""The per-token rate limit on real servers started with TICKETDESK_API_RATE_PER_MINUTE=3: the
fourth request in a burst gets 429 with Retry-After; another token is not affected. On SQLite
and PostgreSQL; and on PostgreSQL two app servers on one database share each token's limit
(domain/rate_limit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.support.app_server import AppServer, run_app
from tests.support.databases import BACKENDS, POSTGRES_URL, postgres_schema
from tests.support.signin import add_person
from ticketdesk.services import tokens as token_service

SLOW = {"TICKETDESK_API_RATE_PER_MINUTE": "3"}


@pytest.fixture(scope="module", params=BACKENDS)
def slow_desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    workdir = tmp_path_factory.mktemp("rate")
    if request.param == "sqlite":
        with run_app(workdir, demo_tickets=0, extra_env=SLOW) as server:
            yield server
        return
    with (
        postgres_schema() as url,
        run_app(workdir, demo_tickets=0, database_url=url, extra_env=SLOW) as server,
    ):
        yield server


def _token(engine: Engine) -> str:
    person = add_person(engine, "agent")
    return token_service.create_token(
        engine, person.account, "t", 1, False, datetime.now(UTC)
    ).token


def _get(url: str, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{url}/api/v1/tickets", headers=headers, timeout=30)


def test_a_burst_beyond_the_limit_gets_429(slow_desk: AppServer) -> None:
    first, second = _token(slow_desk.engine), _token(slow_desk.engine)
    codes = [_get(slow_desk.url, first).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = _get(slow_desk.url, first)
    assert refused.headers["content-type"].startswith("application/problem+json")
    # 3 a minute: one more request in about 20 s.
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert _get(slow_desk.url, second).status_code == 200


@pytest.mark.skipif(not POSTGRES_URL, reason="TICKETDESK_TEST_POSTGRES_URL not set")
def test_two_servers_on_one_postgresql_share_each_tokens_limit(tmp_path: Path) -> None:
    """Alternating between two servers, a token still gets 3 requests, not 3 from each; a
    second token's budget is untouched by the first's."""
    with (
        postgres_schema() as url,
        run_app(tmp_path, 0, database_url=url, extra_env=SLOW, log_name="a.log") as one,
        run_app(tmp_path, 0, database_url=url, extra_env=SLOW, log_name="b.log") as two,
    ):
        first, second = _token(one.engine), _token(one.engine)
        servers = [one.url, two.url, one.url, two.url]
        assert [_get(s, first).status_code for s in servers] == [200, 200, 200, 429]
        assert [_get(s, second).status_code for s in servers[:3]] == [200, 200, 200]
