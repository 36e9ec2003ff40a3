"""Faster SLA shares over long periods: deadline_counts summed per creation day, so a window's
whole days read one row a day each instead of 24.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadline_days",
        sa.Column("priority", sa.String(10), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("tickets", sa.Integer, nullable=False),
        sa.Column("first_met", sa.Integer, nullable=False),
        sa.Column("resolution_met", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO deadline_days (priority, day, tickets, first_met, resolution_met) "
        "SELECT priority, substr(hour, 1, 10), sum(tickets), sum(first_met), "
        "sum(resolution_met) FROM deadline_counts GROUP BY priority, substr(hour, 1, 10)"
    )


def downgrade() -> None:
    op.drop_table("deadline_days")
