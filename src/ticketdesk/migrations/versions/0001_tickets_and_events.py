"""Tickets and their event history.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from ticketdesk.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUS_CHECK = "status IN ('Open', 'In Progress', 'Closed')"
PRIORITY_CHECK = "priority IN ('High', 'Medium', 'Low')"
KIND_CHECK = "kind IN ('created', 'status', 'priority', 'issue')"


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issue", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("first_response_at", UTCDateTime, nullable=True),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.CheckConstraint(STATUS_CHECK, name="ck_tickets_status"),
        sa.CheckConstraint(PRIORITY_CHECK, name="ck_tickets_priority"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_index("ix_tickets_first_response_at", "tickets", ["first_response_at"])
    op.create_index("ix_tickets_closed_at", "tickets", ["closed_at"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_ticket_events_ticket"),
            nullable=False,
        ),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sa.CheckConstraint(KIND_CHECK, name="ck_events_kind"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id", "occurred_at"])
    op.create_index("ix_ticket_events_kind_at", "ticket_events", ["kind", "occurred_at"])


def downgrade() -> None:
    op.drop_table("ticket_events")
    op.drop_table("tickets")
