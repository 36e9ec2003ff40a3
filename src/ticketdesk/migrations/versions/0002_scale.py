"""Scale: sort ranks and keyset indexes, full-text search, counters, a change marker.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from ticketdesk.store.projections import counts
from ticketdesk.store.projections.revision import bump_revision

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RANKS = {
    "status_rank": "CASE status WHEN 'Open' THEN 1 WHEN 'In Progress' THEN 2 ELSE 3 END",
    "priority_rank": "CASE priority WHEN 'High' THEN 1 WHEN 'Medium' THEN 2 ELSE 3 END",
}
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE tickets_fts USING fts5(issue, content='tickets', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER tickets_fts_insert AFTER INSERT ON tickets BEGIN "
    "INSERT INTO tickets_fts(rowid, issue) VALUES (new.id, new.issue); END",
    "CREATE TRIGGER tickets_fts_delete AFTER DELETE ON tickets BEGIN "
    "INSERT INTO tickets_fts(tickets_fts, rowid, issue) VALUES ('delete', old.id, old.issue); END",
    "CREATE TRIGGER tickets_fts_update AFTER UPDATE OF issue ON tickets BEGIN "
    "INSERT INTO tickets_fts(tickets_fts, rowid, issue) VALUES ('delete', old.id, old.issue); "
    "INSERT INTO tickets_fts(rowid, issue) VALUES (new.id, new.issue); END",
    "INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild')",
]
POSTGRES_FTS = (
    "CREATE INDEX ix_tickets_issue_fts ON tickets USING gin (to_tsvector('simple', issue))"
)


def _zero(name: str, type_: sa.types.TypeEngine[Any]) -> sa.Column[Any]:
    return sa.Column(name, type_, nullable=False, server_default="0")


def upgrade() -> None:
    # Plain ADD COLUMN with a default, not a batch table rebuild: on SQLite a rebuild drops
    # the old table, and with foreign keys on that would cascade-delete every event.
    for column, rank in RANKS.items():
        op.add_column(
            "tickets", sa.Column(column, sa.SmallInteger, nullable=False, server_default="0")
        )
        op.execute(f"UPDATE tickets SET {column} = {rank}")  # noqa: S608 - constants above
    op.drop_index("ix_tickets_status", "tickets")
    op.drop_index("ix_tickets_created_at", "tickets")
    op.create_index("ix_tickets_created_at_id", "tickets", ["created_at", "id"])
    # The dashboard reads counters now; this index only cost every insert.
    op.drop_index("ix_ticket_events_kind_at", "ticket_events")
    op.create_index("ix_tickets_status_id", "tickets", ["status", "id"])
    op.create_index("ix_tickets_priority_id", "tickets", ["priority", "id"])
    op.create_index("ix_tickets_status_rank_id", "tickets", ["status_rank", "id"])
    op.create_index("ix_tickets_priority_rank_id", "tickets", ["priority_rank", "id"])
    op.create_index(
        "ix_tickets_issue_prefix_id", "tickets", [sa.text("substr(issue, 1, 100)"), "id"]
    )

    op.create_table(
        "ticket_counts",
        sa.Column("created_day", sa.String(10), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("priority", sa.String(10), primary_key=True),
        sa.Column("tickets", sa.Integer, nullable=False),
    )
    op.create_table(
        "daily_activity",
        sa.Column("day", sa.String(10), primary_key=True),
        *(_zero(name, sa.Integer()) for name in ("created", "closes", "reopens")),
        _zero("first_responses", sa.Integer()),
        _zero("first_response_hours", sa.Float()),
        _zero("resolutions", sa.Integer()),
        _zero("resolution_hours", sa.Float()),
    )
    op.create_table(
        "desk_revision",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_desk_revision_single_row"),
    )
    op.execute("INSERT INTO desk_revision (id, revision) VALUES (1, 0)")

    bind = op.get_bind()
    for statement in SQLITE_FTS if bind.dialect.name == "sqlite" else [POSTGRES_FTS]:
        op.execute(statement)
    counts.rebuild_counts(bind)
    bump_revision(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER tickets_fts_{trigger}")
        op.execute("DROP TABLE tickets_fts")
    else:
        op.drop_index("ix_tickets_issue_fts", "tickets")
    op.drop_table("desk_revision")
    op.drop_table("daily_activity")
    op.drop_table("ticket_counts")
    for name in (
        "issue_prefix_id",
        "priority_rank_id",
        "status_rank_id",
        "priority_id",
        "status_id",
    ):
        op.drop_index(f"ix_tickets_{name}", "tickets")
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.drop_index("ix_tickets_created_at_id", "tickets")
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_ticket_events_kind_at", "ticket_events", ["kind", "occurred_at"])
    op.drop_column("tickets", "priority_rank")
    op.drop_column("tickets", "status_rank")
