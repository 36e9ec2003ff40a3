"""The derived tables: kept in step with every saved change (apply), or rebuilt from the
tickets and their events in one pass (rebuild)."""

from __future__ import annotations

from sqlalchemy import Connection

from ticketdesk.store import targets as target_store
from ticketdesk.store.projections import deadlines
from ticketdesk.store.projections.counts import (
    rebuild_assignee_counts,
    rebuild_counts,
    rebuild_durations,
)
from ticketdesk.store.projections.revision import bump_revision


def rebuild(conn: Connection) -> None:
    """Recount the counter tables from the tickets and their events."""
    rebuild_counts(conn)
    rebuild_assignee_counts(conn)
    rebuild_durations(conn)
    deadlines.rebuild(conn, target_store.load_targets(conn, for_share=True))
    bump_revision(conn)
