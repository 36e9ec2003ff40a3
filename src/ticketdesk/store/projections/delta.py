"""What one saved change adds to every derived table, as plain amounts (pure: no SQL).

`Delta.add_step(before, after, now, targets)` is the single definition of how a ticket's
move from `before` (None: it is new) to `after` at `now` changes the counters, the duration
histogram and the deadline tables. The live write path (projections.apply) computes one step;
the bulk demo load adds up many steps and writes their sum once. Amounts cancel: a ticket that
goes and comes back leaves zeros, which are not written."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from ticketdesk.domain import durations
from ticketdesk.domain.sla import Targets
from ticketdesk.domain.tickets import Status, Ticket
from ticketdesk.store.projections import deadlines

DEADLINE_FIELDS = ("priority", "first_response_at", "closed_at")
"""The fields a ticket's deadline standing depends on (with its creation time, which never
changes)."""


def moves_deadlines(before: Ticket | None, after: Ticket) -> bool:
    """Whether the step changes the deadline tables (so the targets must be read)."""
    return before is None or any(getattr(before, f) != getattr(after, f) for f in DEADLINE_FIELDS)


@dataclass
class Delta:
    """Amounts to add to each derived table."""

    tickets: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(created day, status, priority) -> tickets: ticket_counts."""
    assignees: Counter[tuple[str | None, str]] = field(default_factory=Counter)
    """(assignee or None, status) -> tickets: assignee_counts."""
    days: dict[str, defaultdict[str, float]] = field(default_factory=dict)
    """day -> daily_activity amounts."""
    durations: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    """(measure, day, bucket) -> tickets: duration_counts (and duration_bands)."""
    deadlines: deadlines.Tally = field(default_factory=dict)
    """(priority, creation hour) -> [tickets, first met, resolution met]: deadline tables."""

    def day(self, day: str) -> defaultdict[str, float]:
        amounts = self.days.get(day)  # not setdefault: it would build a dict on every call
        if amounts is None:
            amounts = self.days[day] = defaultdict(float)
        return amounts

    def add_step(
        self, before: Ticket | None, after: Ticket, now: datetime, targets: Targets | None
    ) -> None:
        """Add the move of one ticket from `before` to `after` at `now`. `targets` may be
        None only when moves_deadlines(before, after) is false."""
        created_day = durations.day_key(after.created_at)
        if before is None:
            self.tickets[(created_day, after.status.value, after.priority.value)] += 1
            self.assignees[(after.assignee, after.status.value)] += 1
            self.day(created_day)["created"] += 1
        else:
            if (before.status, before.priority) != (after.status, after.priority):
                self.tickets[(created_day, before.status.value, before.priority.value)] -= 1
                self.tickets[(created_day, after.status.value, after.priority.value)] += 1
            if (before.assignee, before.status) != (after.assignee, after.status):
                self.assignees[(before.assignee, before.status.value)] -= 1
                self.assignees[(after.assignee, after.status.value)] += 1
        was_answered = before is not None and before.first_response_at is not None
        if not was_answered and after.first_response_at is not None:
            self._ended(durations.FIRST_RESPONSE, after.created_at, after.first_response_at, +1)
        old_close = None if before is None else before.closed_at
        if old_close is not None and after.closed_at != old_close:
            # Its previous close no longer counts as its resolution.
            self._ended(durations.RESOLUTION, after.created_at, old_close, -1)
        was_closed = before is not None and before.status is Status.CLOSED
        if after.status is Status.CLOSED and not was_closed:
            self.day(durations.day_key(now))["closes"] += 1
            if after.closed_at is not None:
                self._ended(durations.RESOLUTION, after.created_at, after.closed_at, +1)
        if was_closed and after.status is not Status.CLOSED:
            self.day(durations.day_key(now))["reopens"] += 1
        if moves_deadlines(before, after):
            assert targets is not None, "the targets are needed for this step"
            came = deadlines.of_ticket(after, targets)
            gone = [] if before is None else [deadlines.of_ticket(before, targets)]
            if gone != [came]:
                deadlines.merge_tally(self.deadlines, deadlines.tally(gone, [came]))

    def _ended(self, measure: str, created: datetime, ended: datetime, sign: int) -> None:
        """A first response or resolution that took created..ended comes (+1) or goes (-1)."""
        taken = durations.hours(created, ended)
        day = durations.day_key(ended)
        amounts = self.day(day)
        amounts[f"{measure}s"] += sign
        amounts[f"{measure}_hours"] += sign * taken
        self.durations[(measure, day, durations.duration_bucket(taken))] += sign

    def merge(self, other: Delta) -> None:
        self.tickets.update(other.tickets)
        self.assignees.update(other.assignees)
        self.durations.update(other.durations)
        for day, amounts in other.days.items():
            mine = self.day(day)
            for name, amount in amounts.items():
                mine[name] += amount
        deadlines.merge_tally(self.deadlines, other.deadlines)
