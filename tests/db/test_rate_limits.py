"""The API's rate-limit buckets in the database (store/rate_limits.py, through the service
`tokens.take_request`), on each backend: the same answers as the domain's token bucket for
any sequence of requests, no request lost or doubled when many take from one bucket at once,
and a revoked token's bucket gone with it."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from ticketdesk.domain import rate_limit
from ticketdesk.domain.accounts import Account, SessionEnded
from ticketdesk.services import tokens as token_service
from ticketdesk.store.db import read
from ticketdesk.store.schema import api_rate_buckets

START = 1_790_000_000.0  # seconds since the epoch: late 2026


def _token(engine: Engine, owner: Account, now: datetime) -> int:
    return token_service.create_token(engine, owner, "limits", 1, False, now).info.id


def _buckets(engine: Engine) -> int:
    return read(
        engine, lambda c: c.execute(select(func.count()).select_from(api_rate_buckets)).scalar_one()
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    per_minute=st.sampled_from([1, 3, 7, 600]),
    # Steps between requests, in seconds: bursts (0), refills, and clocks a little behind.
    steps=st.lists(
        st.one_of(st.just(0.0), st.floats(-2.0, 120.0, allow_nan=False)), min_size=1, max_size=25
    ),
)
def test_the_database_bucket_answers_as_the_domains(
    engine: Engine, agent: Account, now: datetime, per_minute: int, steps: list[float]
) -> None:
    token_id = _token(engine, agent, now)
    bucket: rate_limit.Bucket | None = None
    at = START
    for step in steps:
        at += step
        bucket, expected = rate_limit.take(bucket, per_minute, at)
        assert token_service.take_request(engine, token_id, per_minute, at) == expected


def test_many_requests_at_once_are_each_counted_once(
    engine: Engine, agent: Account, now: datetime
) -> None:
    """20 threads take from one bucket of 5 at the same instant: exactly 5 go (an upsert
    that read the level before another wrote it would let more through)."""
    token_id = _token(engine, agent, now)
    waits: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(20)

    def request() -> None:
        gate.wait()
        wait = token_service.take_request(engine, token_id, 5, START)
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=request) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [0.0] * 5 + [12.0] * 15  # 5 a minute: the next in 12 s


def test_a_revoked_tokens_bucket_goes_with_it(
    engine: Engine, agent: Account, now: datetime
) -> None:
    token_id = _token(engine, agent, now)
    assert token_service.take_request(engine, token_id, 3, START) == 0.0
    assert _buckets(engine) == 1
    token_service.revoke_token(engine, agent, token_id)
    assert _buckets(engine) == 0
    # A request that found the token just before it was revoked makes no bucket for it.
    with pytest.raises(SessionEnded):
        token_service.take_request(engine, token_id, 3, START)
    assert _buckets(engine) == 0
