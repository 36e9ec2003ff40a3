"""Faster medians over long periods: each duration bucket's tickets indexed in the order of
their hours, so a median whose period holds a large share of its bucket walks the bucket in
that order instead of sorting the period's tickets of it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_tickets_first_response_bucket_hours": [
        "first_response_bucket",
        "first_response_hours",
        "first_response_at",
    ],
    "ix_tickets_resolution_bucket_hours": ["resolution_bucket", "resolution_hours", "closed_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "tickets", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="tickets")
