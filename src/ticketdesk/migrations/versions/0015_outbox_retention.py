"""Pruning the outboxes: sent mail and delivered webhooks older than
TICKETDESK_OUTBOX_RETENTION_DAYS are deleted; the Message-IDs of pruned mail stay in
mail_sent_ids, for the answers that name them to thread. Indexes find what is due.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from ticketdesk.store.schema import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_sent_ids",
        sa.Column("message_id", sa.String(255), primary_key=True),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_mail_sent_ids_ticket"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_mail_sent_ids_ticket", "mail_sent_ids", ["ticket_id", "created_at"])
    op.create_index("ix_mail_outbox_sent", "mail_outbox", ["state", "sent_at"])
    op.create_index(
        "ix_webhook_deliveries_delivered", "webhook_deliveries", ["state", "delivered_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_delivered", "webhook_deliveries")
    op.drop_index("ix_mail_outbox_sent", "mail_outbox")
    op.drop_index("ix_mail_sent_ids_ticket", "mail_sent_ids")
    op.drop_table("mail_sent_ids")
