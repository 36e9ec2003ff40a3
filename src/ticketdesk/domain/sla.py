"""SLA targets: per priority, hours from creation to the first response and to the resolution.

Stored in `sla_targets` (load/store take an open connection; the caller owns the transaction),
validated by `validate_targets`, and applied to one ticket by the pure `sla_state`.

A deadline is the ticket's creation plus the target of its current priority, in calendar
hours. It is met when the moment it waits for (first response; latest close of a ticket that
is Closed now) comes no later than the deadline, to the millisecond (TOLERANCE, so that SQL's
floating-point hours and Python agree)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ticketdesk.domain.errors import TicketDeskError, ValidationError
from ticketdesk.domain.tickets import Priority, Status

TOLERANCE = timedelta(milliseconds=1)
TOLERANCE_HOURS = TOLERANCE.total_seconds() / 3600
ROUNDING_HOURS = 1e-10
"""0.36 µs: below the microsecond of stored times, above the rounding of float hours (at
exactly deadline + TOLERANCE, 3600.001 / 3600 rounds just above 1 + 0.001 / 3600; at the
longest target, 8,760 h, one float step is about 2e-12 h)."""


def limit_hours(target_hours: float) -> float:
    """The most hours a stored duration may take and still meet a target of `target_hours`
    (the comparison SQL makes on stored hours; sla_state compares times exactly)."""
    return target_hours + TOLERANCE_HOURS + ROUNDING_HOURS


MAX_TARGET_HOURS = 8760.0  # one year: a longer target is a typo, and keeps dates in range


@dataclass(frozen=True)
class SlaTarget:
    first_response_hours: float
    resolution_hours: float


Targets = Mapping[Priority, SlaTarget]
DEFAULT_TARGETS: dict[Priority, SlaTarget] = {
    Priority.HIGH: SlaTarget(4, 24),
    Priority.MEDIUM: SlaTarget(8, 72),
    Priority.LOW: SlaTarget(24, 168),
}


class SlaOutcome(StrEnum):
    MET = "met"
    BREACHED = "breached"
    PENDING = "pending"


@dataclass(frozen=True)
class SlaClock:
    """One deadline of one ticket: when it is due, how it stands, and a short label."""

    due: datetime
    outcome: SlaOutcome
    label: str  # "3 h 20 min left", "breached 2 h ago", "missed by 45 min", "met"
    late_by: timedelta | None = None  # breached: how far past the deadline (so far)
    done_at: datetime | None = None  # when the clock stopped; None while it runs

    @property
    def overdue_now(self) -> bool:
        """Breached and still running: the ticket is waiting past its deadline."""
        return self.outcome is SlaOutcome.BREACHED and self.done_at is None


@dataclass(frozen=True)
class SlaState:
    first_response: SlaClock
    resolution: SlaClock

    @property
    def breached(self) -> bool:
        return SlaOutcome.BREACHED in (self.first_response.outcome, self.resolution.outcome)


def sla_state(
    priority: str,
    created_at: datetime,
    first_response_at: datetime | None,
    closed_at: datetime | None,
    status: str,
    targets: Targets,
    now: datetime,
) -> SlaState:
    """Where one ticket stands against the targets of its current priority at `now`.

    The first-response clock stops at `first_response_at`; the resolution clock at
    `closed_at` if the ticket is Closed now (a reopened ticket's clock runs again)."""
    target = targets[Priority(priority)]
    resolved = closed_at if Status(status) is Status.CLOSED else None
    return SlaState(
        first_response=_clock(created_at, target.first_response_hours, first_response_at, now),
        resolution=_clock(created_at, target.resolution_hours, resolved, now),
    )


def _clock(created_at: datetime, hours: float, done: datetime | None, now: datetime) -> SlaClock:
    due = created_at + timedelta(hours=hours)
    if done is not None:
        if done <= due + TOLERANCE:
            return SlaClock(due, SlaOutcome.MET, "met", done_at=done)
        late = done - due
        return SlaClock(due, SlaOutcome.BREACHED, f"missed by {span(late)}", late, done)
    if now <= due:
        return SlaClock(due, SlaOutcome.PENDING, f"{span(due - now)} left")
    return SlaClock(due, SlaOutcome.BREACHED, f"breached {span(now - due)} ago", now - due)


def span(duration: timedelta) -> str:
    """A duration in whole minutes, rounded down: "45 min", "3 h 20 min", "2 d 4 h"."""
    minutes = int(duration.total_seconds() // 60)
    if minutes < 1:
        return "less than 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def validate_targets(raw: Mapping[str, tuple[object, object]]) -> dict[Priority, SlaTarget]:
    """{priority: (first response hours, resolution hours)} as typed -> targets, or a
    ValidationError naming every problem."""
    problems: list[str] = []
    targets: dict[Priority, SlaTarget] = {}
    for priority in Priority:
        if priority.value not in raw:
            problems.append(f"{priority}: the targets are missing.")
            continue
        first_raw, resolution_raw = raw[priority.value]
        first = _hours(priority, "first-response", first_raw, problems)
        resolution = _hours(priority, "resolution", resolution_raw, problems)
        if first is None or resolution is None:
            continue
        if resolution < first:
            problems.append(
                f"{priority}: the resolution target ({resolution:g} h) cannot be shorter than "
                f"the first-response target ({first:g} h)."
            )
            continue
        targets[priority] = SlaTarget(first, resolution)
    if problems:
        raise ValidationError("\n".join(["Nothing was saved:", *(f"- {p}" for p in problems)]))
    return targets


def _hours(priority: Priority, what: str, value: object, problems: list[str]) -> float | None:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or math.isnan(number):
        problems.append(f"{priority}: enter the {what} target as a number of hours.")
    elif number <= 0:
        problems.append(f"{priority}: the {what} target must be more than 0 hours.")
    elif number > MAX_TARGET_HOURS:
        problems.append(
            f"{priority}: the {what} target can be at most {MAX_TARGET_HOURS:,.0f} hours "
            "(one year)."
        )
    else:
        return number
    return None


class StaleTargets(TicketDeskError):
    """Someone saved other targets since the caller read them; nothing was written."""

    def __init__(self, current: Targets) -> None:
        now_reads = "; ".join(
            f"{p} {t.first_response_hours:g} h / {t.resolution_hours:g} h"
            for p, t in current.items()
        )
        super().__init__(
            "Someone else changed the SLA targets after you opened this page; yours were not "
            f"saved. They now read (first response / resolution): {now_reads}. "
            "The form shows them; make your change again."
        )
        self.current = current
