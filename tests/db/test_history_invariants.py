"""Property-based: whatever sequence of edits agents make, the ticket row, its event log, the
counters kept beside them and the dashboard's numbers agree with each other."""

from __future__ import annotations

import math
import statistics as python_statistics
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select

from tests.support.databases import empty_desk
from tests.support.histories import assert_counters_equal_a_full_recount, replay
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.sla import Targets
from ticketdesk.domain.tickets import PRIORITIES, STATUSES, Priority, TicketChange
from ticketdesk.queries import kpis, late_tickets
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import demo as demo_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import targets as target_store
from ticketdesk.store.schema import (
    ticket_events,
    tickets,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

UNASSIGN = "unassign"
edits = st.lists(
    st.tuples(
        st.integers(0, 3),  # which ticket
        st.integers(1, 600),  # minutes after the previous step
        st.sampled_from(STATUSES) | st.none(),
        st.sampled_from(PRIORITIES) | st.none(),
        st.sampled_from(["reply", "note", "message"]) | st.none(),
        st.sampled_from(["Ana Agent", "Ada Admin", UNASSIGN]) | st.none(),
    ),
    max_size=25,
)


def check_rows_match_their_histories(conn: Connection) -> list[dict[str, Any]]:
    rows = [dict(r._mapping) for r in conn.execute(select(tickets))]
    events = [
        dict(r._mapping) for r in conn.execute(select(ticket_events).order_by(ticket_events.c.id))
    ]
    for row in rows:
        mine = [e for e in events if e["ticket_id"] == row["id"]]
        assert mine[0]["kind"] == "created"
        assert [e["occurred_at"] for e in mine] == sorted(e["occurred_at"] for e in mine)
        rebuilt = replay(mine)
        for field in ("status", "priority", "first_response_at", "closed_at"):
            assert row[field] == rebuilt[field], (field, row, mine)
        # What the open-ticket indexes rely on: closed_at is set exactly on Closed tickets,
        # and only a ticket that never left Open has no first response.
        assert (row["closed_at"] is None) == (row["status"] != "Closed")
        assert row["first_response_at"] is not None or row["status"] == "Open"
        for measure, moment in (
            ("first_response", "first_response_at"),
            ("resolution", "closed_at"),
        ):
            check_stored_duration(row, measure, row[moment])
        # Each write made one version; its events carry it, so "what changed since" works.
        versions = [e["version"] for e in mine]
        assert versions == sorted(versions) and versions[-1] == row["version"]
    return events


def check_stored_duration(row: dict[str, Any], measure: str, moment: datetime | None) -> None:
    hours, bucket = row[f"{measure}_hours"], row[f"{measure}_bucket"]
    if moment is None:
        assert hours is None and bucket is None
        return
    seconds = (moment - row["created_at"]).total_seconds()
    assert hours == pytest.approx(seconds / 3600, abs=1e-9)
    # Bucket b >= 1 holds [e^((b-1)/24), e^(b/24)) seconds; bucket 0 everything under 1 s.
    if seconds < 1:
        assert bucket == 0
    else:
        assert math.exp((bucket - 1) / 24) <= seconds * (1 + 1e-12)
        assert seconds < math.exp(bucket / 24) * (1 + 1e-12)


def median_by_hand(rows: list[dict[str, Any]], moment: str, start: datetime, end: datetime) -> Any:
    hours = [
        (r[moment] - r["created_at"]).total_seconds() / 3600
        for r in rows
        if r[moment] is not None and start <= r[moment] < end
    ]
    return pytest.approx(python_statistics.median(hours), abs=1e-9) if hours else None


def loads_by_hand(rows: list[dict[str, Any]], targets: Targets, now: datetime) -> list[Any]:
    """Open tickets per assignee, and how many are past a deadline at `now`: an unanswered
    ticket once it is older than its first-response target, an answered open one once it is
    older than its resolution target. Most open first, the unassigned (None) last of equals."""
    loads: dict[str | None, list[int]] = {}
    for r in rows:
        if r["status"] == "Closed":
            continue
        target = targets[Priority(r["priority"])]
        hours = (
            min(target.first_response_hours, target.resolution_hours)
            if r["first_response_at"] is None
            else target.resolution_hours
        )
        load = loads.setdefault(r["assignee"], [0, 0])
        load[0] += 1
        load[1] += now - r["created_at"] > timedelta(hours=hours)
    ranked = sorted(loads.items(), key=lambda kv: (-kv[1][0], kv[0] is None, kv[0] or ""))
    return [late_tickets.AssigneeLoad(name, n, late) for name, (n, late) in ranked]


def open_by_replay(conn: Connection, at: datetime) -> int:
    """Tickets not Closed at `at`, by replaying every history up to then."""
    count = 0
    for row in conn.execute(select(tickets.c.id).where(tickets.c.created_at <= at)):
        history = conn.execute(
            select(ticket_events)
            .where(ticket_events.c.ticket_id == row.id, ticket_events.c.occurred_at <= at)
            .order_by(ticket_events.c.id)
        )
        count += replay([dict(e._mapping) for e in history])["status"] != "Closed"
    return count


@SETTINGS
@given(steps=edits)
def test_any_edit_sequence_keeps_rows_events_and_kpis_in_step(
    engine: Engine,
    requester: Account,
    agent: Account,
    admin: Account,  # makes "Ada Admin" an account that tickets can be assigned to
    steps: list[tuple[int, int, str | None, str | None, str | None, str | None]],
) -> None:
    empty_desk(engine)
    ids = [
        ticket_service.create_ticket(
            engine, requester, f"ticket {i}", "Low", START + timedelta(minutes=i)
        ).id
        for i in range(4)
    ]
    moment = START + timedelta(minutes=10)
    for which, minutes, status, priority, message, assignee in steps:
        moment += timedelta(minutes=minutes)
        change = TicketChange(
            status=status,
            priority=priority,
            assignee=None if assignee == UNASSIGN else assignee,
            unassign=assignee == UNASSIGN,
        )
        ticket_service.update_ticket(engine, agent, ids[which], change, moment)
        if message:
            # Agents reply and add notes; the requester who filed the ticket writes messages.
            author = requester if message == "message" else agent
            ticket_service.add_message(engine, author, ids[which], message, "hello", moment)
    with engine.connect() as conn:
        check_rows_match_their_histories(conn)
        assert kpis.open_tickets_now(conn) == open_by_replay(conn, moment)
        rows = [dict(r._mapping) for r in conn.execute(select(tickets))]
        loads = loads_by_hand(rows, target_store.load_targets(conn), moment)
        assert late_tickets.open_by_assignee(conn, target_store.load_targets(conn), moment) == loads
        for days in (1, 2, 5):
            data = dashboard_service.dashboard(engine, agent, moment, days)
            start = datetime.combine(data.first_day, time(), UTC)
            before_start = start - timedelta(microseconds=1)
            assert data.open_at_period_start == open_by_replay(conn, before_start)
            rows = [dict(r._mapping) for r in conn.execute(select(tickets))]
            end = start + timedelta(days=days)
            first = median_by_hand(rows, "first_response_at", start, end)
            assert data.current.first_response_median == first
            assert data.current.resolution_median == median_by_hand(rows, "closed_at", start, end)
    assert_counters_equal_a_full_recount(engine)


def test_seeded_demo_data_matches_its_event_log(engine: Engine, agent: Account) -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert demo_service.seed_demo(engine, 300, now, seed=7) == 300
    with engine.connect() as conn:
        events = check_rows_match_their_histories(conn)
        assert kpis.open_tickets_now(conn) == open_by_replay(conn, now)
    assert_counters_equal_a_full_recount(engine)
    assert len(events) > 300  # histories, not just creations
    assert dashboard_service.dashboard(engine, agent, now).first_response.count > 0
