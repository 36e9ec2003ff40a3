"""The stored SLA targets (read; the caller owns the transaction)."""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    select,
)

from ticketdesk.domain.sla import DEFAULT_TARGETS, SlaTarget
from ticketdesk.domain.tickets import Priority
from ticketdesk.store.schema import sla_targets


def load_targets(
    conn: Connection, *, for_update: bool = False, for_share: bool = False
) -> dict[Priority, SlaTarget]:
    """The stored targets; a priority without a row gets its default. `for_update` locks the
    rows against every other lock; `for_share` (a write that counts deadlines met under these
    targets) only against a change of the targets, until the transaction ends (PostgreSQL;
    SQLite writers hold the whole database already)."""
    query = select(sla_targets)
    if for_update or for_share:
        query = query.with_for_update(read=not for_update)
    stored = {
        row.priority: SlaTarget(row.first_response_hours, row.resolution_hours)
        for row in conn.execute(query)
    }
    return {p: stored.get(p.value, DEFAULT_TARGETS[p]) for p in Priority}
