"""Who made each change, and which version of the ticket it made.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ticket_events", sa.Column("actor", sa.String(100), nullable=True))
    op.add_column("ticket_events", sa.Column("version", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("ticket_events", "version")
    op.drop_column("ticket_events", "actor")
