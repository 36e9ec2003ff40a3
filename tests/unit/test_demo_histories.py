"""The demo data's histories (domain.demo_histories), made without a database: each ticket's
row is what its own events give, and nothing happens in the future."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.histories import replay
from ticketdesk.domain import demo_histories


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 60), span=st.integers(1, 400))
def test_demo_histories_are_consistent_and_never_in_the_future(
    seed: int, count: int, span: int
) -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    made = list(demo_histories.generate(random.Random(seed), count, now, span))
    created = [t.final.created_at for t in made]
    assert created == sorted(created)  # IDs grow with filing time
    for ticket in made:
        events: list[dict[str, Any]] = [
            {"kind": e.kind, "occurred_at": at, "old_value": e.old_value, "new_value": e.new_value}
            for _, outcome, at, _ in ticket.steps
            for e in outcome.events
        ]
        assert all(now - timedelta(days=span) <= e["occurred_at"] < now for e in events)
        rebuilt = replay(events)
        for field in ("status", "priority", "first_response_at", "closed_at"):
            assert getattr(ticket.final, field) == rebuilt[field]
