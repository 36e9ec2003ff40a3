"""Tickets per assignee and status, kept beside the tickets: the dashboard's open tickets per
assignee read these few rows instead of the whole open backlog.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignee_counts",
        sa.Column("assignee", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("tickets", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO assignee_counts (assignee, status, tickets) "
        "SELECT coalesce(assignee, ''), status, count(*) FROM tickets "
        "GROUP BY coalesce(assignee, ''), status"
    )


def downgrade() -> None:
    op.drop_table("assignee_counts")
