"""Durations as the dashboard keeps them: UTC days and hours of a moment, hours between two
moments, and the geometric duration buckets that the medians read (pure: no SQL)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any


def day_key(moment: datetime | date | str) -> str:
    """The UTC day of `moment` as 'YYYY-MM-DD' (a string is taken to be one already)."""
    if isinstance(moment, str):
        return moment
    if isinstance(moment, datetime):
        if moment.tzinfo is not UTC:  # astimezone costs as much as the rest; seeding calls
            moment = moment.astimezone(UTC)  # this for every ticket and every event
        return moment.date().isoformat()
    return moment.isoformat()


def hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


BUCKETS_PER_E = 24
"""Duration buckets grow geometrically: each is e^(1/24), about 4.3 %, wider than the one
below it. Bucket 0 holds everything under a second, bucket 1 starts at one second."""


FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"


BUCKETS_PER_BAND = 8
"""duration_bands sums the buckets 8b..8b+7 of a day as band b (each band e^(1/3), about
40 %, wider than the one below it)."""


def duration_bucket(hours: float) -> int:
    seconds = hours * 3600
    return 0 if seconds < 1 else 1 + math.floor(BUCKETS_PER_E * math.log(seconds))


def duration_columns(
    created: datetime, first_response_at: datetime | None, closed_at: datetime | None
) -> dict[str, Any]:
    """The tickets row's stored durations for these moments (see schema.tickets)."""
    first = None if first_response_at is None else hours(created, first_response_at)
    resolution = None if closed_at is None else hours(created, closed_at)
    return {
        "first_response_hours": first,
        "first_response_bucket": None if first is None else duration_bucket(first),
        "resolution_hours": resolution,
        "resolution_bucket": None if resolution is None else duration_bucket(resolution),
    }


def duration_key(measure: str, moment: datetime, hours: float) -> tuple[str, str, int]:
    """The duration histogram's row for a `measure` that took `hours` and ended at `moment`."""
    return measure, day_key(moment), duration_bucket(hours)


def hour_key(moment: datetime) -> str:
    """'YYYY-MM-DD HH' of `moment` in UTC, as the SQL of hour_of gives it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H")
