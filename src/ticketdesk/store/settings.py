"""Writing the desk's settings (SLA targets) with what depends on them, in the caller's
transaction."""

from __future__ import annotations

from sqlalchemy import (
    Connection,
)
from sqlalchemy.dialects import postgresql, sqlite

from ticketdesk.domain.sla import SlaTarget, StaleTargets, Targets
from ticketdesk.domain.tickets import Priority
from ticketdesk.store import projections
from ticketdesk.store.projections.revision import bump_revision
from ticketdesk.store.schema import sla_targets
from ticketdesk.store.targets import load_targets


def store_targets(
    conn: Connection, targets: Targets, expected: Targets | None = None
) -> tuple[dict[Priority, SlaTarget], dict[Priority, SlaTarget]]:
    """Write all targets (an upsert per priority). With `expected`, refuse (StaleTargets)
    unless the stored targets still equal it. Changed targets recount the deadline tables
    (projections.targets_changed); either way the desk revision moves: open pages redraw.
    Returns (the targets before, the targets stored now)."""
    current = load_targets(conn, for_update=True)
    if expected is not None and dict(expected) != current:
        raise StaleTargets(current)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(sla_targets)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["priority"],
            set_={
                "first_response_hours": statement.excluded.first_response_hours,
                "resolution_hours": statement.excluded.resolution_hours,
            },
        ),
        [
            {
                "priority": p.value,
                "first_response_hours": t.first_response_hours,
                "resolution_hours": t.resolution_hours,
            }
            for p, t in targets.items()
        ],
    )
    stored = load_targets(conn)
    if stored != current:  # which deadlines were met depends on the targets
        projections.targets_changed(conn)
    else:
        bump_revision(conn)
    return current, stored
