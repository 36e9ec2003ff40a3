"""Dashboard numbers on hand-built histories; every expected value is worked out by hand in the
comments, from the README's definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from ticketdesk import reporting, services
from ticketdesk.domain import TicketChange
from ticketdesk.statistics import Mean

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# A period is whole UTC days ending today: the last 30 days are Oct 29 .. Nov 27 (from Oct 29
# 00:00), the 30 before them Sep 29 .. Oct 28.


def mean(hours: float | None, count: int) -> Mean:
    """Expected Mean; SQLite's julianday() arithmetic is exact to about 0.1 ms."""
    return Mean(None if hours is None else pytest.approx(hours, abs=1e-6), count)  # type: ignore[arg-type]


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def ticket(engine: Engine, created: datetime, priority: str, *moves: tuple[datetime, str]) -> int:
    made = services.create_ticket(engine, f"filed {created:%b %d}", priority, created)
    for moment, status in moves:
        services.update_ticket(engine, made.id, TicketChange(status=status), moment)
    return made.id


@pytest.fixture
def desk(engine: Engine) -> Engine:
    # A: answered after 2 h, closed after 24 h, all in the current period.
    ticket(engine, at(11, 20), "High", (at(11, 20, 14), "In Progress"), (at(11, 21), "Closed"))
    # B: never answered, still Open.
    ticket(engine, at(11, 25), "Low")
    # C: answered after 12 h and closed after 48 h in the previous period, then reopened on
    #    Nov 1 and closed again on Nov 2: its resolution is now Oct 1 -> Nov 2 = 32 days = 768 h.
    ticket(
        engine,
        at(10, 1),
        "Medium",
        (at(10, 2, 0), "In Progress"),
        (at(10, 3), "Closed"),
        (at(11, 1), "Open"),
        (at(11, 2), "Closed"),
    )
    # D: answered after 6 h, closed after 5 days = 120 h, both in the previous period.
    ticket(engine, at(9, 30), "Medium", (at(9, 30, 18), "In Progress"), (at(10, 5), "Closed"))
    # E: answered after 4 h, still In Progress.
    ticket(engine, at(11, 26), "High", (at(11, 26, 16), "In Progress"))
    return engine


def test_kpis_over_the_last_30_days(desk: Engine) -> None:
    data = reporting.dashboard(desk, NOW, period_days=30)
    # Open now: B (Open) and E (In Progress).
    assert data.open_now == 2
    # On Oct 29 00:00 only C and D existed, and both were Closed then.
    assert data.open_at_period_start == 0
    assert data.created == 3  # A, B, E
    # First responses in the period: A 2 h, E 4 h; before: C 12 h, D 6 h.
    assert data.first_response == mean(3.0, 2)
    assert data.first_response_previous == mean(9.0, 2)
    # Latest closes in the period: A 24 h, C 768 h; before: D 120 h (C's first close no
    # longer counts: it was reopened).
    assert data.resolution == mean(396.0, 2)
    assert data.resolution_previous == mean(120.0, 1)


def test_charts_count_tickets_by_month_submitted_and_priority(desk: Engine) -> None:
    data = reporting.dashboard(desk, NOW)
    assert data.status_per_month == [
        ("2026-09", "Closed", 1),  # D
        ("2026-10", "Closed", 1),  # C
        ("2026-11", "Closed", 1),  # A
        ("2026-11", "In Progress", 1),  # E
        ("2026-11", "Open", 1),  # B
    ]
    assert data.priority_counts == [("High", 2), ("Low", 1), ("Medium", 2)]


def test_a_seven_day_period(desk: Engine) -> None:
    # Current = Nov 21 .. Nov 27: E answered on Nov 26 (4 h). A was answered on Nov 20 at
    # 14:00 (2 h): that is the previous period, Nov 14 .. Nov 20.
    data = reporting.dashboard(desk, NOW, period_days=7)
    assert data.first_response == mean(4.0, 1)
    assert data.first_response_previous == mean(2.0, 1)
    # A closed on Nov 21 12:00 after 24 h; nothing closed Nov 14 .. 20.
    assert data.resolution == mean(24.0, 1)
    assert data.resolution_previous == mean(None, 0)
    # Open on Nov 21 00:00: A (In Progress until its close at noon). B and E came later.
    assert data.open_at_period_start == 1


def test_empty_desk(engine: Engine) -> None:
    data = reporting.dashboard(engine, NOW)
    assert (data.open_now, data.open_at_period_start) == (0, 0)
    assert data.first_response == mean(None, 0)
    assert data.resolution == mean(None, 0)
    assert (data.status_per_month, data.priority_counts) == ([], [])


def test_tickets_answered_at_the_period_boundary(engine: Engine) -> None:
    start = datetime(2026, 10, 29, tzinfo=UTC)  # 00:00 of the first of the last 30 days
    ticket(engine, start - timedelta(hours=5), "Low", (start, "In Progress"))
    before = start - timedelta(microseconds=1)
    ticket(engine, before - timedelta(hours=2), "Low", (before, "In Progress"))
    data = reporting.dashboard(engine, NOW)
    # Answered at 00:00 of the first day: inside. One microsecond earlier: the period before.
    assert data.first_response == mean(5.0, 1)
    assert data.first_response_previous == mean(2.0, 1)


def test_months_are_utc_months(engine: Engine) -> None:
    ticket(engine, datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "Low")
    ticket(engine, datetime(2026, 11, 1, 0, 30, tzinfo=UTC), "Low")
    assert reporting.dashboard(engine, NOW).status_per_month == [
        ("2026-10", "Open", 1),
        ("2026-11", "Open", 1),
    ]
