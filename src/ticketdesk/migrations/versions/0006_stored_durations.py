"""Stored durations for the dashboard: each ticket's hours to its first response and to its
latest close with their duration buckets, a per-day histogram of those buckets, SLA deadlines
met per creation hour, and indexes that let the dashboard read ranges of them (and the open
tickets) without visiting rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from ticketdesk.domain.durations import duration_columns
from ticketdesk.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 10_000
DURATION_COLUMNS = (
    ("first_response_hours", sa.Float),
    ("first_response_bucket", sa.SmallInteger),
    ("resolution_hours", sa.Float),
    ("resolution_bucket", sa.SmallInteger),
)
DAY = {
    "sqlite": "strftime('%Y-%m-%d', {})",
    "postgresql": "to_char(({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}
HOUR = {
    "sqlite": "strftime('%Y-%m-%d %H', created_at)",
    "postgresql": "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')",
}
# sla.limit_hours as of this revision: the target, 1 ms of tolerance, 0.36 µs for rounding.
SLACK_HOURS = 0.001 / 3600 + 1e-10


def upgrade() -> None:
    for name, type_ in DURATION_COLUMNS:
        op.add_column("tickets", sa.Column(name, type_, nullable=True))
    _backfill_durations()
    op.create_table(
        "duration_counts",
        sa.Column("measure", sa.String(20), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("bucket", sa.SmallInteger, primary_key=True),
        sa.Column("tickets", sa.Integer, nullable=False),
    )
    day = DAY[op.get_bind().dialect.name]
    for measure, moment, bucket in (
        ("first_response", "first_response_at", "first_response_bucket"),
        ("resolution", "closed_at", "resolution_bucket"),
    ):
        op.execute(
            f"INSERT INTO duration_counts (measure, day, bucket, tickets) "  # noqa: S608
            f"SELECT '{measure}', {day.format(moment)}, {bucket}, count(*) FROM tickets "
            f"WHERE {moment} IS NOT NULL GROUP BY {day.format(moment)}, {bucket}"
        )
    _count_deadlines()
    op.create_index(
        "ix_tickets_first_response_bucket",
        "tickets",
        ["first_response_bucket", "first_response_at", "first_response_hours"],
    )
    op.create_index(
        "ix_tickets_resolution_bucket",
        "tickets",
        ["resolution_bucket", "closed_at", "resolution_hours"],
    )
    op.create_index(
        "ix_tickets_first_response_late",
        "tickets",
        ["priority", "first_response_hours", "created_at"],
    )
    op.create_index(
        "ix_tickets_resolution_late", "tickets", ["priority", "resolution_hours", "created_at"]
    )
    # The medians no longer read these; left, they would lure SQLite away from the partial
    # indexes over the open tickets.
    op.drop_index("ix_tickets_first_response_at", "tickets")
    op.drop_index("ix_tickets_closed_at", "tickets")
    unanswered = sa.text("first_response_at IS NULL")
    open_answered = sa.text("closed_at IS NULL AND first_response_at IS NOT NULL")
    op.create_index(
        "ix_tickets_unanswered",
        "tickets",
        ["priority", "created_at", "assignee"],
        sqlite_where=unanswered,
        postgresql_where=unanswered,
    )
    op.create_index(
        "ix_tickets_open_answered",
        "tickets",
        ["priority", "created_at", "assignee"],
        sqlite_where=open_answered,
        postgresql_where=open_answered,
    )


def _count_deadlines() -> None:
    """deadline_counts under the stored targets, as deadline_counts.rebuild does it."""
    op.create_table(
        "deadline_counts",
        sa.Column("priority", sa.String(10), primary_key=True),
        sa.Column("hour", sa.String(13), primary_key=True),
        sa.Column("tickets", sa.Integer, nullable=False),
        sa.Column("first_met", sa.Integer, nullable=False),
        sa.Column("resolution_met", sa.Integer, nullable=False),
    )
    conn = op.get_bind()
    hour = HOUR[conn.dialect.name]
    targets = conn.execute(
        sa.text("SELECT priority, first_response_hours, resolution_hours FROM sla_targets")
    ).all()
    for priority, first, resolution in targets:
        conn.execute(
            sa.text(
                "INSERT INTO deadline_counts "  # noqa: S608
                "(priority, hour, tickets, first_met, resolution_met) "
                f"SELECT CAST(:priority AS VARCHAR(10)), {hour}, count(*), "
                "coalesce(sum(CASE WHEN first_response_hours <= :first THEN 1 ELSE 0 END), 0), "
                "coalesce(sum(CASE WHEN resolution_hours <= :resolution THEN 1 ELSE 0 END), 0) "
                f"FROM tickets WHERE priority = :priority GROUP BY {hour}"
            ),
            {
                "priority": priority,
                "first": first + SLACK_HOURS,
                "resolution": resolution + SLACK_HOURS,
            },
        )


def _backfill_durations() -> None:
    """Compute the durations with the same code as every later write, a batch at a time."""
    conn = op.get_bind()
    tickets = sa.table(
        "tickets",
        sa.column("id", sa.Integer),
        sa.column("created_at", UTCDateTime),
        sa.column("first_response_at", UTCDateTime),
        sa.column("closed_at", UTCDateTime),
        *(sa.column(name, type_) for name, type_ in DURATION_COLUMNS),
    )
    t = tickets.c
    update = (
        sa.update(tickets)
        .where(t.id == sa.bindparam("ticket_id"))
        .values({name: sa.bindparam(name) for name, _ in DURATION_COLUMNS})
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(t.id, t.created_at, t.first_response_at, t.closed_at)
            .where(t.id > last, sa.or_(t.first_response_at.is_not(None), t.closed_at.is_not(None)))
            .order_by(t.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            update,
            [
                {
                    "ticket_id": r.id,
                    **duration_columns(r.created_at, r.first_response_at, r.closed_at),
                }
                for r in rows
            ],
        )
        last = rows[-1].id


def downgrade() -> None:
    for name in (
        "ix_tickets_open_answered",
        "ix_tickets_unanswered",
        "ix_tickets_resolution_late",
        "ix_tickets_first_response_late",
        "ix_tickets_resolution_bucket",
        "ix_tickets_first_response_bucket",
    ):
        op.drop_index(name, "tickets")
    op.create_index("ix_tickets_first_response_at", "tickets", ["first_response_at"])
    op.create_index("ix_tickets_closed_at", "tickets", ["closed_at"])
    op.drop_table("deadline_counts")
    op.drop_table("duration_counts")
    for name, _ in reversed(DURATION_COLUMNS):
        op.drop_column("tickets", name)
