"""A row per stored content (`blobs`), which every attachment names (a foreign key): what an
upload of some content and the deletion of that content's blob both lock, so that a committed
attachment never names a blob deleted meanwhile (services.files, docs/operations.md).

Existing attachments' contents get their rows with no upload pending.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import contextlib
import warnings
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations
from sqlalchemy.exc import SAWarning

from ticketdesk.store.schema import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


@contextlib.contextmanager
def _attachments_batch() -> Iterator[BatchOperations]:
    # attachments is referenced by nothing, so a batch rebuild (SQLite) is safe (see 0004);
    # reflecting it reflects the tickets table too, whose expression indexes SQLAlchemy skips.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        with op.batch_alter_table("attachments") as batch:
            yield batch


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("pending", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_at", UTCDateTime),
    )
    op.execute("INSERT INTO blobs (sha256, pending) SELECT DISTINCT sha256, 0 FROM attachments")
    with _attachments_batch() as batch:
        batch.create_foreign_key("fk_attachments_blob", "blobs", ["sha256"], ["sha256"])


def downgrade() -> None:
    with _attachments_batch() as batch:
        batch.drop_constraint("fk_attachments_blob", type_="foreignkey")
    op.drop_table("blobs")
