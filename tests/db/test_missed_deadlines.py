"""The dashboard's late tickets of a period (late_tickets.missed_in) against a list made by hand
from the SLA definition in sla.py, for both ways it reads them: a deadline is the creation
time plus the target of the ticket's priority; a first response or a close (of a ticket
Closed now) more than 1 ms after it missed it, late by the time between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from tests.support.databases import empty_desk
from ticketdesk.domain import sla
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import PRIORITIES, Priority, TicketChange
from ticketdesk.queries import late_tickets
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import targets as target_store
from ticketdesk.store.schema import tickets

BASE = datetime(2026, 3, 2, tzinfo=UTC)
TOLERANCE = timedelta(milliseconds=1)
HOUR = timedelta(hours=1)

# Per ticket: priority, minutes after BASE it was filed, minutes to its first response and
# then to its close (None: not reached). Default targets: High 4 h / 24 h, Medium 8 h /
# 72 h, Low 24 h / 168 h; the steps straddle them.
filed = st.lists(
    st.tuples(
        st.sampled_from(PRIORITIES),
        st.integers(0, 5 * 24 * 60),
        st.sampled_from([3000, 241, 481, 1441, 5000, 240, 480, 1440, 30, None]),
        st.sampled_from([12000, 1441, 4321, 9000, 10081, 1200, 4320, 60, None]),
    ),
    min_size=3,
    max_size=12,
)
# A window: (which ticket's deadline it holds, or None for BASE; first response or
# resolution; minutes it starts before that moment; minutes it ends after it; how many to
# list).
windows = st.tuples(
    st.integers(0, 11) | st.none(),
    st.booleans(),
    st.integers(0, 2 * 24 * 60),
    st.integers(1, 4 * 24 * 60),
    st.sampled_from([1, 2, 3, 50]),
)


def missed_by_hand(
    rows: list[dict[str, Any]], targets: sla.Targets, start: datetime, end: datetime, limit: int
) -> list[int]:
    late: dict[int, float] = {}
    for r in rows:
        target = targets[Priority(r["priority"])]
        for moment, target_hours, took in (
            (r["first_response_at"], target.first_response_hours, r["first_response_hours"]),
            (r["closed_at"], target.resolution_hours, r["resolution_hours"]),
        ):
            due = r["created_at"] + target_hours * HOUR
            if moment is not None and start <= due < end and moment > due + TOLERANCE:
                late[r["id"]] = max(late.get(r["id"], 0.0), took - target_hours)
    return sorted(late, key=lambda i: (-late[i], i))[:limit]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(made=filed, window=windows)
def test_late_tickets_of_a_period_are_the_same_read_either_way(
    engine: Engine,
    agent: Account,
    made: list[tuple[str, int, int | None, int | None]],
    window: tuple[int | None, bool, int, int, int],
) -> None:
    empty_desk(engine)
    for priority, minutes, answer, close in made:
        created = BASE + timedelta(minutes=minutes)
        ticket = ticket_service.create_ticket(engine, agent, "printer", priority, created)
        if answer is not None:
            at = created + timedelta(minutes=answer)
            ticket_service.update_ticket(engine, agent, ticket.id, TicketChange("In Progress"), at)
            if close is not None:
                at += timedelta(minutes=close)
                ticket_service.update_ticket(engine, agent, ticket.id, TicketChange("Closed"), at)
    which, first, before, after, limit = window
    with engine.connect() as conn:
        targets = target_store.load_targets(conn)
        rows = [dict(r._mapping) for r in conn.execute(select(tickets).order_by(tickets.c.id))]
        anchor = BASE
        if which is not None:
            row = rows[which % len(rows)]
            target = targets[Priority(row["priority"])]
            hours = target.first_response_hours if first else target.resolution_hours
            anchor = row["created_at"] + hours * HOUR
        start = anchor - timedelta(minutes=before)
        end = anchor + timedelta(minutes=after)
        expected = missed_by_hand(rows, targets, start, end, limit)
        for by_creation in (True, False, None):
            got = late_tickets.missed_in(conn, targets, start, end, limit, by_creation)
            assert [r.id for r in got] == expected, by_creation


def test_the_tickets_created_in_a_window_are_estimated_from_the_days_counts() -> None:
    """missed_in picks its way of reading by this estimate: whole days count whole, the two
    end days by the share of them the window covers."""
    created = {BASE.date(): 24, (BASE + 24 * HOUR).date(): 48, (BASE + 48 * HOUR).date(): 10}
    estimate = late_tickets._created_between
    # Mar 2 12:00 .. Mar 4 06:00: 24 / 2 + 48 + 10 / 4 = 62.5.
    assert estimate(created, BASE + 12 * HOUR, BASE + 54 * HOUR) == 62.5
    # Up to midnight: 12 + 48 + 0; within Mar 3, 06:00 .. 18:00: 48 / 2; empty windows: 0.
    assert estimate(created, BASE + 12 * HOUR, BASE + 48 * HOUR) == 60
    assert estimate(created, BASE + 30 * HOUR, BASE + 42 * HOUR) == 24
    assert estimate(created, BASE + 30 * HOUR, BASE + 30 * HOUR) == 0
    assert estimate(created, BASE + 80 * HOUR, BASE + 100 * HOUR) == 0
