"""The desk revision: one number that every write moves, so that open pages know cheaply
whether to redraw; moving it also tells the other app servers (store.changes: a NOTIFY on
PostgreSQL, sent when the transaction commits)."""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    update,
)

from ticketdesk.store import changes
from ticketdesk.store.schema import desk_revision


def bump_revision(conn: Connection) -> int:
    revision = conn.execute(
        update(desk_revision)
        .where(desk_revision.c.id == 1)
        .values(revision=desk_revision.c.revision + 1)
        .returning(desk_revision.c.revision)
    ).scalar_one()
    changes.announce(conn, changes.DESK)
    return int(revision)
