"""SLA targets: the pure sla_state() on hand-computed cases, and their validation (their
storage is tests/db/test_sla_targets.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.sla import typed
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.sla import (
    DEFAULT_TARGETS,
    SlaOutcome,
    SlaTarget,
    sla_state,
    span,
    validate_targets,
)
from ticketdesk.domain.tickets import Priority

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TARGETS = DEFAULT_TARGETS  # High 4 / 24 h, Medium 8 / 72 h, Low 24 / 168 h


def ago(hours: float = 0, minutes: float = 0) -> datetime:
    return NOW - timedelta(hours=hours, minutes=minutes)


def test_a_new_ticket_has_time_left_on_both_clocks() -> None:
    # High, filed 40 min ago: answer due in 4 h - 40 min = 3 h 20 min; close due in 23 h 20 min.
    state = sla_state("High", ago(minutes=40), None, None, "Open", TARGETS, NOW)
    assert state.first_response.due == ago(minutes=40) + timedelta(hours=4)
    assert state.first_response.outcome is SlaOutcome.PENDING
    assert state.first_response.label == "3 h 20 min left"
    assert state.resolution.label == "23 h 20 min left"
    assert not state.breached


def test_an_unanswered_ticket_past_its_deadline_is_breached_and_counting() -> None:
    # Medium, filed 10 h ago: answer was due 8 h after, i.e. 2 h ago.
    state = sla_state("Medium", ago(10), None, None, "Open", TARGETS, NOW)
    assert state.first_response.outcome is SlaOutcome.BREACHED
    assert state.first_response.label == "breached 2 h ago"
    assert state.first_response.late_by == timedelta(hours=2)
    assert state.first_response.overdue_now
    assert state.resolution.label == "2 d 14 h left"  # 72 - 10 = 62 h
    assert state.breached


def test_answered_in_time_and_closed_late() -> None:
    # Low, filed 200 h ago, answered after 23 h (met), closed after 170 h (2 h past 168 h).
    created = ago(200)
    state = sla_state(
        "Low", created, created + timedelta(hours=23), ago(30), "Closed", TARGETS, NOW
    )
    assert (state.first_response.outcome, state.first_response.label) == (SlaOutcome.MET, "met")
    assert state.resolution.outcome is SlaOutcome.BREACHED
    assert state.resolution.label == "missed by 2 h"
    assert state.resolution.late_by == timedelta(hours=2)
    assert not state.resolution.overdue_now


def test_the_tolerance_is_one_millisecond_and_not_a_microsecond_more() -> None:
    # High: first response due 4 h after filing. Done 1 ms late still counts as met (SQL's
    # float hours and Python's times must agree); 1 ms and 1 us late is a breach.
    created = ago(30)
    due = created + timedelta(hours=4)

    def first_response(done: datetime) -> SlaOutcome:
        return sla_state(
            "High", created, done, None, "In Progress", TARGETS, NOW
        ).first_response.outcome

    assert first_response(due - timedelta(microseconds=1)) is SlaOutcome.MET
    assert first_response(due + timedelta(milliseconds=1)) is SlaOutcome.MET
    late = due + timedelta(milliseconds=1, microseconds=1)
    assert first_response(late) is SlaOutcome.BREACHED


def test_a_deadline_met_to_the_microsecond() -> None:
    # High: answered exactly 4 h and closed exactly 24 h after filing: both met.
    created = ago(30)
    at_deadline = sla_state(
        "High",
        created,
        created + timedelta(hours=4),
        created + timedelta(hours=24),
        "Closed",
        TARGETS,
        NOW,
    )
    assert at_deadline.first_response.outcome is SlaOutcome.MET
    assert at_deadline.resolution.outcome is SlaOutcome.MET
    # A clock that reaches its deadline at `now` is not breached yet.
    due_now = sla_state("High", ago(4), None, None, "Open", TARGETS, NOW)
    assert (due_now.first_response.outcome, due_now.first_response.label) == (
        SlaOutcome.PENDING,
        "less than 1 min left",
    )


def test_a_reopened_ticket_runs_its_resolution_clock_again() -> None:
    # High, filed 30 h ago, closed after 10 h, reopened: closed_at is cleared on reopening
    # (and a stale one is ignored unless the ticket is Closed): due 6 h ago.
    created = ago(30)
    state = sla_state(
        "High", created, created + timedelta(hours=1), ago(20), "In Progress", TARGETS, NOW
    )
    assert state.resolution.outcome is SlaOutcome.BREACHED
    assert state.resolution.label == "breached 6 h ago"


def test_targets_are_those_passed_in() -> None:
    tight = {**TARGETS, Priority.LOW: SlaTarget(0.5, 2)}
    state = sla_state("Low", ago(minutes=45), None, None, "Open", tight, NOW)
    assert state.first_response.label == "breached 15 min ago"
    assert state.resolution.label == "1 h 15 min left"


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(seconds=59), "less than 1 min"),
        (timedelta(minutes=45, seconds=59), "45 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(hours=47, minutes=59), "47 h 59 min"),
        (timedelta(hours=48), "2 d"),
        (timedelta(days=3, hours=4, minutes=30), "3 d 4 h"),
    ],
)
def test_spans_are_whole_minutes_rounded_down(duration: timedelta, text: str) -> None:
    assert span(duration) == text


def test_valid_targets_are_floats() -> None:
    assert validate_targets(typed(Low=(0.5, "36"))) == {
        Priority.HIGH: SlaTarget(4.0, 24.0),
        Priority.MEDIUM: SlaTarget(8.0, 72.0),
        Priority.LOW: SlaTarget(0.5, 36.0),
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"High": (0, 24)}, "High: the first-response target must be more than 0 hours."),
        ({"Medium": (8, -1)}, "Medium: the resolution target must be more than 0 hours."),
        ({"Low": (None, 168)}, "Low: enter the first-response target as a number of hours."),
        ({"Low": (math.nan, 168)}, "Low: enter the first-response target as a number"),
        ({"Low": ("soon", 168)}, "Low: enter the first-response target as a number"),
        ({"High": (True, 24)}, "High: enter the first-response target as a number"),
        ({"High": (4, 9000)}, "at most 8,760 hours (one year)"),
        (
            {"High": (10, 5)},
            "High: the resolution target (5 h) cannot be shorter than the first-response "
            "target (10 h).",
        ),
    ],
)
def test_invalid_targets_say_what_is_wrong(
    changes: dict[str, tuple[object, object]], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_targets(typed(**changes))
    assert str(refused.value).startswith("Nothing was saved:")
    assert message in str(refused.value)


def test_every_problem_is_named_at_once() -> None:
    raw = typed(High=(0, 0), Low=(30, 20))
    del raw["Medium"]
    with pytest.raises(ValidationError) as refused:
        validate_targets(raw)
    lines = str(refused.value).splitlines()
    assert lines == [
        "Nothing was saved:",
        "- High: the first-response target must be more than 0 hours.",
        "- High: the resolution target must be more than 0 hours.",
        "- Medium: the targets are missing.",
        "- Low: the resolution target (20 h) cannot be shorter than the first-response "
        "target (30 h).",
    ]
