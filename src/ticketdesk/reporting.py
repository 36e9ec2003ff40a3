"""Services for the dashboard and its settings: plain values in and out, one transaction each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine

from . import counters, statistics
from .db import read
from .statistics import Mean


@dataclass(frozen=True)
class Dashboard:
    period_days: int
    first_day: date
    open_now: int
    open_at_period_start: int
    created: int
    first_response: Mean
    first_response_previous: Mean
    resolution: Mean
    resolution_previous: Mean
    status_per_month: list[tuple[str, str, int]]
    priority_counts: list[tuple[str, int]]
    revision: int  # the desk revision these numbers were read at


def dashboard(engine: Engine, now: datetime, period_days: int = 30) -> Dashboard:
    """KPIs for the `period_days` UTC days ending today (today included), against the
    `period_days` days before them."""
    if period_days < 1:
        raise ValueError("period_days must be at least 1")
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=period_days - 1)
    previous_first, previous_last = first - timedelta(days=period_days), first - timedelta(days=1)

    def work(conn: Connection) -> Dashboard:
        current = statistics.activity(conn, first, today)
        previous = statistics.activity(conn, previous_first, previous_last)
        open_now = statistics.open_tickets_now(conn)
        return Dashboard(
            period_days=period_days,
            first_day=first,
            open_now=open_now,
            open_at_period_start=open_now - current.created + current.closes - current.reopens,
            created=current.created,
            first_response=current.first_response,
            first_response_previous=previous.first_response,
            resolution=current.resolution,
            resolution_previous=previous.resolution,
            status_per_month=statistics.status_per_month(conn),
            priority_counts=statistics.priority_counts(conn),
            revision=counters.current_revision(conn),
        )

    return read(engine, work)
