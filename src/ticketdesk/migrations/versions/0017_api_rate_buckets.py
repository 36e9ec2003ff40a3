"""The API's rate-limit buckets in the database, so that on PostgreSQL every app server takes
from the same bucket per token (domain/rate_limit.py says why; SQLite keeps them in memory).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_rate_buckets",
        sa.Column(
            "token_id",
            sa.Integer,
            sa.ForeignKey("api_tokens.id", ondelete="CASCADE", name="fk_api_rate_buckets_token"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("level", sa.Float, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
    )
