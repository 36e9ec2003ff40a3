"""Faster dashboard reads. Duration bands: the per-day duration histogram summed over bands of
8 buckets, and an index on the histogram by bucket, so a period's median reads a few rows per
day instead of every bucket of every day. Open tickets indexed per priority and assignee, so
the tickets within their targets are counted per assignee without a sort.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BUCKETS_PER_BAND = 8  # counters.BUCKETS_PER_BAND as of this revision
OPEN_GROUPS = {
    "ix_tickets_unanswered_by_assignee": "first_response_at IS NULL",
    "ix_tickets_open_answered_by_assignee": "closed_at IS NULL AND first_response_at IS NOT NULL",
}


def upgrade() -> None:
    op.create_table(
        "duration_bands",
        sa.Column("measure", sa.String(20), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("band", sa.SmallInteger, primary_key=True),
        sa.Column("tickets", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO duration_bands (measure, day, band, tickets) "  # noqa: S608
        f"SELECT measure, day, bucket / {BUCKETS_PER_BAND}, sum(tickets) FROM duration_counts "
        f"GROUP BY measure, day, bucket / {BUCKETS_PER_BAND}"
    )
    op.create_index(
        "ix_duration_counts_bucket", "duration_counts", ["measure", "bucket", "day", "tickets"]
    )
    for name, where in OPEN_GROUPS.items():
        op.create_index(
            name,
            "tickets",
            ["priority", "assignee", "created_at"],
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def downgrade() -> None:
    for name in OPEN_GROUPS:
        op.drop_index(name, table_name="tickets")
    op.drop_index("ix_duration_counts_bucket", table_name="duration_counts")
    op.drop_table("duration_bands")
