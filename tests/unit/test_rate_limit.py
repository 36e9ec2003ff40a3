"""The API's token bucket (domain/rate_limit.py), worked by hand at 3 requests a minute: a
burst of 3, then one every 20 s; a clock that goes back refills nothing."""

from __future__ import annotations

from ticketdesk.domain.rate_limit import Bucket, take


def test_a_new_token_has_a_full_bucket_for_a_burst_then_waits_for_the_refill() -> None:
    bucket = None
    waits = []
    for _ in range(4):
        bucket, wait = take(bucket, 3, 100.0)
        waits.append(wait)
    assert waits == [0.0, 0.0, 0.0, 20.0]
    assert bucket == Bucket(0.0, 100.0)


def test_the_bucket_refills_at_the_rate_and_a_refused_request_takes_nothing() -> None:
    empty = Bucket(0.0, 100.0)
    half, wait = take(empty, 3, 110.0)  # 10 s: half a request back, not enough
    assert (half, wait) == (Bucket(0.5, 110.0), 10.0)
    after, wait = take(half, 3, 120.0)  # 10 s more: one whole request, taken
    assert (after, wait) == (Bucket(0.0, 120.0), 0.0)


def test_the_bucket_holds_no_more_than_its_capacity() -> None:
    bucket, wait = take(Bucket(0.0, 0.0), 3, 3600.0)  # an hour idle: full (3), not 180
    assert (bucket, wait) == (Bucket(2.0, 3600.0), 0.0)


def test_a_clock_behind_the_buckets_refills_nothing_and_keeps_its_time() -> None:
    bucket, wait = take(Bucket(0.5, 100.0), 3, 90.0)
    assert (bucket, wait) == (Bucket(0.5, 100.0), 10.0)
