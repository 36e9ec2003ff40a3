"""Alembic environment: run with the connection handed over by ticketdesk.db.migrate, or a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ticketdesk.store.db import make_engine
from ticketdesk.store.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
