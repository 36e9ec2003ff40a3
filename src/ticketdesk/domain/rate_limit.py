"""The API's per-token rate limit: a token bucket, and why it is kept where it is.

Each token has a bucket of up to `per_minute` requests that refills at `per_minute` a minute
(so a burst of as many, then one every 60 / per_minute seconds). A request takes one whole
request out of it, or waits until one has refilled.

Where the bucket lives decides what "per token" means when several app servers serve one
desk (docs/operations.md): a bucket in each process's memory gives each server a budget of
its own, so a token behind a load balancer with N servers could make N times the limit. On
PostgreSQL (the backend for several servers) the bucket is therefore a row of the
`api_rate_buckets` table, taken in one upsert (store/rate_limits.py mirrors `take` in SQL),
shared by every server. On SQLite (one app server) it stays in the process's memory: a write
per request would take SQLite's single write lock, putting every API read in the queue of the
desk's writes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    level: float
    """Requests left, a fraction while refilling."""
    at: float
    """When `level` was worked out, in seconds on the caller's clock."""


def take(bucket: Bucket | None, per_minute: int, at: float) -> tuple[Bucket, float]:
    """One request at `at` (seconds): the bucket after it, and 0 when the request may go, else
    how many seconds until it could. A new token's bucket (None) is full. A clock that went
    back (another server's, a little behind) refills nothing and does not move `at` back."""
    capacity = float(per_minute)
    if bucket is None:
        bucket = Bucket(capacity, at)
    elapsed = max(0.0, at - bucket.at)
    level = min(capacity, bucket.level + elapsed * per_minute / 60.0)
    when = max(at, bucket.at)
    if level >= 1.0:
        return Bucket(level - 1.0, when), 0.0
    return Bucket(level, when), (1.0 - level) * 60.0 / per_minute
