"""The desk revision, read: open pages compare it with the one they drew to know whether to
redraw (store.projections.revision moves it with every write)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from ticketdesk.store.schema import desk_revision


def current_revision(conn: Connection) -> int:
    query = select(desk_revision.c.revision).where(desk_revision.c.id == 1)
    return int(conn.execute(query).scalar_one())
