"""Mail: the outbox of notifications, the inbox of received mail (raw, compressed), people's
notification opt-outs and the desk's admin settings.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from ticketdesk.store.schema import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_mail_outbox_ticket"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column(
            "recipient_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", name="fk_mail_outbox_recipient"),
        ),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("recipient_name", sa.String(100), nullable=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("in_reply_to", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("lease_until", UTCDateTime, nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'sent', 'failed')", name="ck_mail_outbox_state"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["state", "next_attempt_at"])
    op.create_index("ix_mail_outbox_ticket", "mail_outbox", ["ticket_id", "created_at"])
    op.create_table(
        "mail_inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("sender", sa.String(254), nullable=True),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=True),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_mail_inbox_ticket"),
            nullable=True,
        ),
        sa.Column(
            "ticket_message_id",
            sa.Integer,
            sa.ForeignKey("ticket_messages.id", ondelete="CASCADE", name="fk_mail_inbox_message"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "outcome IN ('filed', 'reply', 'ignored', 'rejected')", name="ck_mail_inbox_outcome"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_mail_inbox_ticket", "mail_inbox", ["ticket_id", "received_at"])
    op.create_index("ix_mail_inbox_outcome", "mail_inbox", ["outcome", "id"])
    op.create_table(
        "notification_optouts",
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey(
                "accounts.id", ondelete="CASCADE", name="fk_notification_optouts_account"
            ),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(30), primary_key=True),
    )
    op.create_table(
        "desk_settings",
        sa.Column("key", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("desk_settings")
    op.drop_table("notification_optouts")
    op.drop_index("ix_mail_inbox_outcome", "mail_inbox")
    op.drop_index("ix_mail_inbox_ticket", "mail_inbox")
    op.drop_table("mail_inbox")
    op.drop_index("ix_mail_outbox_ticket", "mail_outbox")
    op.drop_index("ix_mail_outbox_due", "mail_outbox")
    op.drop_table("mail_outbox")
