"""Table definitions (SQLAlchemy Core). Alembic migrations create them; tests compare the two."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from .domain import PRIORITIES, STATUSES, EventKind


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData()

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    # Maintained in the same transaction as the events that define them, so the KPIs
    # read one indexed column instead of replaying every history.
    Column("first_response_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    CheckConstraint(_in("status", STATUSES), name="ck_tickets_status"),
    CheckConstraint(_in("priority", PRIORITIES), name="ck_tickets_priority"),
    sqlite_autoincrement=True,
)
Index("ix_tickets_created_at", tickets.c.created_at)
Index("ix_tickets_status", tickets.c.status)
Index("ix_tickets_first_response_at", tickets.c.first_response_at)
Index("ix_tickets_closed_at", tickets.c.closed_at)

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "ticket_id",
        Integer,
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_ticket_events_ticket"),
        nullable=False,
    ),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    CheckConstraint(_in("kind", tuple(k.value for k in EventKind)), name="ck_events_kind"),
    sqlite_autoincrement=True,
)
Index("ix_ticket_events_ticket", ticket_events.c.ticket_id, ticket_events.c.occurred_at)
Index("ix_ticket_events_kind_at", ticket_events.c.kind, ticket_events.c.occurred_at)
