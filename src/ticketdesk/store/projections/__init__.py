"""The derived tables, kept in one place: every saved change goes through `apply` (called by
store.tickets.save, the only writer of tickets), and `rebuild` recounts them all from the
tickets and their events (after a bulk load on request, by `ticketdesk recount`, and by the
tests that check the two always agree).

The derived tables: ticket_counts, daily_activity, assignee_counts (counts.py);
duration_counts and duration_bands (counts.py); deadline_counts and deadline_days
(deadlines.py); the desk revision (revision.py). What one change adds to each is computed
once, in delta.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from ticketdesk.domain.tickets import Ticket
from ticketdesk.store import targets as target_store
from ticketdesk.store.projections import counts, deadlines
from ticketdesk.store.projections.delta import Delta, moves_deadlines
from ticketdesk.store.projections.revision import bump_revision


def apply(conn: Connection, before: Ticket | None, after: Ticket, now: datetime) -> None:
    """Move one ticket's share of every derived table from `before` (None: new) to `after`,
    and move the desk revision. In the caller's transaction."""
    targets = None
    if moves_deadlines(before, after):
        # Shared lock: a concurrent change of the targets waits for this write (PostgreSQL).
        targets = target_store.load_targets(conn, for_share=True)
    delta = Delta()
    delta.add_step(before, after, now, targets)
    write(conn, delta)
    bump_revision(conn)


def write(conn: Connection, delta: Delta) -> None:
    """Add `delta` to the tables: each in one upsert, rows in key order (see upsert.add_many).
    The bulk load calls this once per batch, then bump_revision."""
    counts.add_counts(conn, delta.tickets)
    counts.add_assignee_counts(conn, delta.assignees)
    counts.add_activities(conn, {day: dict(amounts) for day, amounts in delta.days.items()})
    counts.add_durations(conn, delta.durations)
    deadlines.add_tally(conn, delta.deadlines)


def rebuild(conn: Connection) -> None:
    """Recount every derived table from the tickets and their events."""
    counts.rebuild_counts(conn)
    counts.rebuild_assignee_counts(conn)
    counts.rebuild_durations(conn)
    deadlines.rebuild(conn, target_store.load_targets(conn, for_share=True))
    bump_revision(conn)


def targets_changed(conn: Connection) -> None:
    """Which deadlines were met depends on the targets: recount the deadline tables under the
    stored ones, and move the desk revision."""
    deadlines.rebuild(conn, target_store.load_targets(conn, for_share=True))
    bump_revision(conn)
