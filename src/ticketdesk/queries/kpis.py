"""SQL for the dashboard's figures, whose definitions are written once, in docs/kpis.md.

Counts and means read the derived tables only (kept by store.projections), so their cost does
not grow with the number of tickets; medians read a per-day histogram of durations by bands,
then one band's buckets, then the tickets of one bucket in the order of their hours; SLA
shares are read by queries/sla_shares.py and the late tickets by queries/late_tickets.py.
A period is a run of whole UTC days, [start, end)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    func,
    literal_column,
    select,
)

from ticketdesk.domain.durations import BUCKETS_PER_BAND
from ticketdesk.domain.sla import Targets
from ticketdesk.domain.tickets import Status, day_start
from ticketdesk.queries import sla_shares
from ticketdesk.store.schema import (
    MEASURED,
    daily_activity,
    duration_bands,
    duration_counts,
    ticket_counts,
)


@dataclass(frozen=True)
class Mean:
    """A mean over `count` tickets; `hours` is None when there were none."""

    hours: float | None
    count: int


@dataclass(frozen=True)
class Activity:
    """What happened on the days first..last (inclusive)."""

    created: int
    closes: int
    reopens: int
    first_response: Mean
    resolution: Mean


def _mean(total: float | None, count: int | None) -> Mean:
    n = int(count or 0)
    return Mean(None if n == 0 else float(total or 0) / n, n)


_a = daily_activity.c
_ACTIVITY = select(
    func.sum(_a.created),
    func.sum(_a.closes),
    func.sum(_a.reopens),
    func.sum(_a.first_response_hours),
    func.sum(_a.first_responses),
    func.sum(_a.resolution_hours),
    func.sum(_a.resolutions),
).where(_a.day >= bindparam("first", type_=String), _a.day <= bindparam("last", type_=String))
_c = ticket_counts.c
_OPEN_NOW = select(func.coalesce(func.sum(_c.tickets), 0)).where(_c.status != Status.CLOSED.value)
_month = func.substr(_c.created_day, 1, 7).label("month")
_STATUS_PER_MONTH = (
    select(_month, _c.status, func.sum(_c.tickets))
    .group_by(_month, _c.status)
    .having(func.sum(_c.tickets) > 0)
    .order_by(_month, _c.status)
)
_PRIORITY_COUNTS = (
    select(_c.priority, func.sum(_c.tickets))
    .group_by(_c.priority)
    .having(func.sum(_c.tickets) > 0)
    .order_by(_c.priority)
)
# The statements above and below are built once: a dashboard read only binds its days.


def activity(conn: Connection, first: date, last: date) -> Activity:
    days = {"first": first.isoformat(), "last": last.isoformat()}
    row = conn.execute(_ACTIVITY, days).one()
    return Activity(
        created=int(row[0] or 0),
        closes=int(row[1] or 0),
        reopens=int(row[2] or 0),
        first_response=_mean(row[3], row[4]),
        resolution=_mean(row[5], row[6]),
    )


def open_tickets_now(conn: Connection) -> int:
    return int(conn.execute(_OPEN_NOW).scalar_one())


def status_per_month(conn: Connection) -> list[tuple[str, str, int]]:
    """(month submitted 'YYYY-MM', current status, tickets), by month then status."""
    return [(str(m), str(s), int(n)) for m, s, n in conn.execute(_STATUS_PER_MONTH)]


def priority_counts(conn: Connection) -> list[tuple[str, int]]:
    """(priority, tickets) over all tickets, as they are now."""
    return [(str(p), int(n)) for p, n in conn.execute(_PRIORITY_COUNTS)]


@lru_cache(maxsize=4)
def _bands_statement(measure: str) -> Select[Any]:
    """(band, tickets) of `measure` over the days first..last, by band."""
    b = duration_bands.c
    return (
        select(b.band, func.sum(b.tickets))
        .where(
            b.measure == measure,
            b.day >= bindparam("first", type_=String),
            b.day <= bindparam("last", type_=String),
        )
        .group_by(b.band)
        .order_by(b.band)
    )


@lru_cache(maxsize=4)
def _buckets_statement(measure: str) -> Select[Any]:
    """(bucket, tickets) of `measure` over the days first..last, for the buckets in `buckets`
    (one band's: ix_duration_counts_bucket reads each bucket's run of days), by bucket."""
    d = duration_counts.c
    return (
        select(d.bucket, func.sum(d.tickets))
        .where(
            d.measure == measure,
            d.bucket.in_(bindparam("buckets", expanding=True)),
            d.day >= bindparam("first", type_=String),
            d.day <= bindparam("last", type_=String),
        )
        .group_by(d.bucket)
        .order_by(d.bucket)
    )


@lru_cache(maxsize=4)
def _bucket_total_statement(measure: str) -> Select[Any]:
    """How many tickets the duration histogram holds in `bucket`, over all days."""
    d = duration_counts.c
    return select(func.coalesce(func.sum(d.tickets), 0)).where(
        d.measure == measure, d.bucket == bindparam("bucket", type_=Integer)
    )


@lru_cache(maxsize=8)
def _ranked_statement(measure: str, in_hours_order: bool) -> Select[Any]:
    """The hours of `measure` at ranks `offset`.. `offset + count - 1` (from 0, fewest hours
    first) among the tickets of one bucket whose measure ended in [start, end). Read one of
    two ways, the same rows either way: the period's tickets of the bucket, sorted (by hours
    + 0, which no index orders: ix_tickets_<measure>_bucket), or, ordered by hours, the
    bucket's tickets in that order (ix_tickets_<measure>_bucket_hours), skipping those outside
    the period and stopping at the ranks wanted."""
    moment, hours, bucket = MEASURED[measure]
    return (
        select(hours)
        .where(
            bucket == bindparam("bucket", type_=Integer),
            moment >= bindparam("start", type_=moment.type),
            moment < bindparam("end", type_=moment.type),
        )
        .order_by(hours if in_hours_order else hours + literal_column("0"))
        .limit(bindparam("count", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


SORT_MAX = 500
"""A median sorts a bucket's tickets of its period when they are this many or fewer."""
WALK_PER_SORT = 4
"""Walking a bucket's index entries in order costs about a quarter of sorting as many (1M
tickets on SQLite: 13k entries walked in 1.2 ms, 6.6k sorted in 2.8 ms)."""


def walk_in_hours_order(end_rank: int, in_period: int, in_bucket: int) -> bool:
    """Whether to find the ranks below `end_rank` among a bucket's `in_period` tickets of a
    period by walking all its `in_bucket` tickets in hours order: about end_rank * in_bucket /
    in_period entries (the period's share of them is spread over the walk), against sorting
    the `in_period` ones."""
    return end_rank * in_bucket < WALK_PER_SORT * in_period * in_period


def _walks(conn: Connection, measure: str, bucket: int, end_rank: int, in_period: int) -> bool:
    """Whether the ranked read of `bucket` orders by hours (see _ranked_statement). Given that
    order, PostgreSQL picks one of the two indexes from its statistics; SQLite has none and
    always walks, so here the counts decide: a few of the period's tickets are sorted, more are
    when the period holds a small share of the bucket (walk_in_hours_order)."""
    if conn.dialect.name != "sqlite":
        return True
    if in_period <= SORT_MAX:
        return False
    in_bucket = conn.execute(_bucket_total_statement(measure), {"bucket": bucket}).scalar_one()
    return walk_in_hours_order(end_rank, in_period, int(in_bucket))


def _locate(histogram: Sequence[tuple[int, int]], rank: int) -> tuple[int, int]:
    """(key, rank within its key) of the item at `rank` (from 0) of a histogram in key order."""
    below = 0
    for key, count in histogram:
        if rank < below + count:
            return key, rank - below
        below += count
    raise AssertionError("rank beyond the histogram")  # pragma: no cover


def median_hours(
    conn: Connection,
    measure: str,
    first: date,
    last: date,
    in_hours_order: bool | None = None,
) -> float | None:
    """Median of the hours to the first response (measure FIRST_RESPONSE) or to the latest
    close of the tickets Closed now (RESOLUTION) that happened on the UTC days first..last;
    of an even count, the mean of the two middle values. Exact, at a cost that depends on
    the days and the buckets, not on the tickets: the day's bands (duration_bands) say which
    band holds each middle rank, that band's buckets (duration_counts) which bucket, and only
    that bucket's tickets are read, one of two ways (_ranked_statement, _walks;
    `in_hours_order` picks one, as the tests do to compare them). The statements are built
    once per measure and way."""
    days = {"first": first.isoformat(), "last": last.isoformat()}
    per_band = [(int(band), int(n)) for band, n in conn.execute(_bands_statement(measure), days)]
    n = sum(count for _, count in per_band)
    if n == 0:
        return None
    in_bands = [_locate(per_band, rank) for rank in ([n // 2] if n % 2 else [n // 2 - 1, n // 2])]
    per_bucket: dict[int, list[tuple[int, int]]] = {}
    for band, _ in in_bands:
        if band not in per_bucket:
            buckets = list(range(band * BUCKETS_PER_BAND, (band + 1) * BUCKETS_PER_BAND))
            rows = conn.execute(_buckets_statement(measure), {**days, "buckets": buckets})
            per_bucket[band] = [(int(bucket), int(count)) for bucket, count in rows]
    in_buckets = [_locate(per_bucket[band], rank) for band, rank in in_bands]
    window = {"start": day_start(first), "end": day_start(last + timedelta(days=1))}
    # The two middle ranks of an even count are neighbours: one read when they share a bucket.
    if len({bucket for bucket, _ in in_buckets}) == 1:
        reads = [(*in_buckets[0], len(in_buckets))]
    else:
        reads = [(bucket, offset, 1) for bucket, offset in in_buckets]
    values: list[float] = []
    for bucket, offset, count in reads:
        walk = in_hours_order
        if walk is None:
            in_period = dict(per_bucket[bucket // BUCKETS_PER_BAND])[bucket]
            walk = _walks(conn, measure, bucket, offset + count, in_period)
        values += conn.execute(
            _ranked_statement(measure, walk),
            {"bucket": bucket, "offset": offset, "count": count, **window},
        ).scalars()
    return sum(float(v) for v in values) / len(values)


@dataclass(frozen=True)
class Share:
    """`met` of `total` deadlines; percent is None when there were none."""

    met: int
    total: int

    @property
    def percent(self) -> float | None:
        return None if self.total == 0 else 100.0 * self.met / self.total

    @property
    def missed(self) -> int:
        return self.total - self.met


@dataclass(frozen=True)
class SlaAchievement:
    first_response: Share
    resolution: Share


def sla_achievement(
    conn: Connection, targets: Targets, start: datetime, end: datetime
) -> SlaAchievement:
    """The first-response and resolution deadlines that fell in [start, end), and how many of
    them were met (see sla.py). Callers pass end <= now: a deadline still ahead is not decided.
    `targets` must be the stored ones: deadline_counts is kept for those."""
    if end <= start:
        return SlaAchievement(Share(0, 0), Share(0, 0))
    first, resolution = sla_shares.shares(conn, targets, start, end)
    return SlaAchievement(Share(*first), Share(*resolution))
