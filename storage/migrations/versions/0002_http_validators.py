"""HTTP validators of listing pages, for conditional requests; the listing date of failures.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "http_validators",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url", name="pk_http_validators"),
    )
    with op.batch_alter_table("crawl_failures") as batch:
        batch.add_column(sa.Column("listed_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_failures") as batch:
        batch.drop_column("listed_on")
    op.drop_table("http_validators")
