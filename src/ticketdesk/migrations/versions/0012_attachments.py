"""Attachments: one row per file on a ticket or message (the bytes live in the file store),
and the history's new event kind `file_removed`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import warnings

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

from ticketdesk.store.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD_KINDS = (
    "kind IN ('created', 'status', 'priority', 'issue', 'assignee', 'reply', 'note', 'message')"
)
NEW_KINDS = (
    "kind IN ('created', 'status', 'priority', 'issue', 'assignee', 'reply', 'note', "
    "'message', 'file_removed')"
)


def _kinds(check: str) -> None:
    # ticket_events is referenced by nothing, so a batch rebuild (SQLite) is safe (see 0004).
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        with op.batch_alter_table("ticket_events") as batch:
            batch.drop_constraint("ck_events_kind", type_="check")
            batch.create_check_constraint("ck_events_kind", check)


def upgrade() -> None:
    _kinds(NEW_KINDS)
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_attachments_ticket"),
            nullable=False,
        ),
        sa.Column(
            "message_id",
            sa.Integer,
            sa.ForeignKey("ticket_messages.id", ondelete="CASCADE", name="fk_attachments_message"),
            nullable=True,
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column(
            "author_id", sa.Integer, sa.ForeignKey("accounts.id", name="fk_attachments_author")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_attachments_ticket", "attachments", ["ticket_id", "message_id"])
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"])


def downgrade() -> None:
    op.drop_table("attachments")
    op.execute("DELETE FROM ticket_events WHERE kind = 'file_removed'")
    _kinds(OLD_KINDS)
