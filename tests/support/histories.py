"""Checks the history tests share: a ticket's state replayed from its events by hand (pure),
and every counter table compared with a full recount of the tickets (on a database)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from ticketdesk.store import projections
from ticketdesk.store.schema import (
    assignee_counts,
    daily_activity,
    deadline_counts,
    deadline_days,
    duration_bands,
    duration_counts,
    ticket_counts,
)


def replay(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A ticket's state rebuilt from its events alone, the definitions of docs/kpis.md applied."""
    state: dict[str, Any] = {"status": "Open", "first_response_at": None, "closed_at": None}
    for e in events:
        if e["kind"] == "created" or e["kind"] == "priority":
            state["priority"] = e["new_value"]
        elif e["kind"] == "reply" and state["first_response_at"] is None:
            state["first_response_at"] = e["occurred_at"]  # an agent's first public reply
        elif e["kind"] == "status":
            if e["old_value"] == "Open" and state["first_response_at"] is None:
                state["first_response_at"] = e["occurred_at"]
            state["closed_at"] = e["occurred_at"] if e["new_value"] == "Closed" else None
            state["status"] = e["new_value"]
    return state


def counter_rows(conn: Connection) -> tuple[dict[Any, Any], ...]:
    counts = {
        (r.created_day, r.status, r.priority): r.tickets
        for r in conn.execute(select(ticket_counts))
        if r.tickets
    }
    activity = {
        (r.day, name): pytest.approx(value, abs=1e-6)
        for r in conn.execute(select(daily_activity))
        for name, value in r._mapping.items()
        if name != "day" and abs(value) > 1e-9  # a sum that went back to 0.0 +- rounding
    }
    durations = {
        (r.measure, r.day, r.bucket): r.tickets
        for r in conn.execute(select(duration_counts))
        if r.tickets
    }
    bands = {
        (r.measure, r.day, r.band): r.tickets
        for r in conn.execute(select(duration_bands))
        if r.tickets
    }
    deadlines = {
        (r.priority, r.hour): (r.tickets, r.first_met, r.resolution_met)
        for r in conn.execute(select(deadline_counts))
        if (r.tickets, r.first_met, r.resolution_met) != (0, 0, 0)
    }
    assignees = {
        (r.assignee, r.status): r.tickets
        for r in conn.execute(select(assignee_counts))
        if r.tickets
    }
    deadline_sums = {
        (r.priority, r.day): (r.tickets, r.first_met, r.resolution_met)
        for r in conn.execute(select(deadline_days))
        if (r.tickets, r.first_met, r.resolution_met) != (0, 0, 0)
    }
    return counts, activity, durations, bands, deadlines, assignees, deadline_sums


def assert_counters_equal_a_full_recount(engine: Engine) -> None:
    with engine.connect() as conn:
        kept = counter_rows(conn)
    with engine.begin() as conn:
        projections.rebuild(conn)
    with engine.connect() as conn:
        recounted = counter_rows(conn)
    # Every counter table, compared whole: a table added to counter_rows is compared too.
    assert kept == recounted
