"""Accounts, server-side sign-in sessions and failed sign-ins; tickets, events and messages
name the account behind them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from ticketdesk.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_key", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("role IN ('requester', 'agent', 'admin')", name="ck_accounts_role"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "auth_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_auth_sessions_account"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_auth_sessions_account", "auth_sessions", ["account_id"])
    op.create_index("ix_auth_sessions_expires_at", "auth_sessions", ["expires_at"])
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email_key", sa.String(254), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_signin_failures_email", "signin_failures", ["email_key", "at"])
    op.create_index("ix_signin_failures_address", "signin_failures", ["address", "at"])
    # Nullable columns with a reference: SQLite adds them in place (no table rebuild, which
    # would take minutes at a million tickets); PostgreSQL adds the foreign key too.
    for table, column, name in [
        ("tickets", "requester_id", "fk_tickets_requester"),
        ("ticket_events", "actor_id", "fk_ticket_events_actor"),
        ("ticket_messages", "author_id", "fk_ticket_messages_author"),
    ]:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {name} REFERENCES accounts (id)"
            )
        else:
            op.add_column(
                table, sa.Column(column, sa.Integer, sa.ForeignKey("accounts.id", name=name))
            )
    op.create_index("ix_tickets_requester_id", "tickets", ["requester_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_tickets_requester_id", "tickets")
    for table, column in [
        ("ticket_messages", "author_id"),
        ("ticket_events", "actor_id"),
        ("tickets", "requester_id"),
    ]:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    op.drop_table("signin_failures")
    op.drop_table("auth_sessions")
    op.drop_table("accounts")
