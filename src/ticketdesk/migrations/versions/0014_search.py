"""PostgreSQL search: the issue's words in a stored column under a GIN index, with statistics.

A search that walks the sort order's index checks each ticket's words: from a stored tsvector
that is one comparison, where the expression index of 0002 made it parse the issue again. The
GIN index moves to that column (the search reads `issue_search @@ query` now) and ANALYZE
gives the planner the words' frequencies. SQLite keeps its FTS5 table: nothing changes there.
Rewrites the tickets table on PostgreSQL (about a minute at 1M tickets).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE tickets ADD COLUMN issue_search tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', issue)) STORED"
    )
    op.execute("CREATE INDEX ix_tickets_issue_search ON tickets USING gin (issue_search)")
    op.execute("DROP INDEX ix_tickets_issue_fts")
    op.execute("ANALYZE tickets")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_tickets_issue_fts ON tickets USING gin (to_tsvector('simple', issue))"
    )
    op.execute("DROP INDEX ix_tickets_issue_search")
    op.execute("ALTER TABLE tickets DROP COLUMN issue_search")
