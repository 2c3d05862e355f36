"""The category of the listing that linked a page that failed.

Adds ``category`` to ``crawl_failures``: a page retried on a later run (not from its
listing) is stored with the category its listing gave it, as ``listed_on`` keeps the date.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_failures") as batch:
        batch.add_column(sa.Column("category", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_failures") as batch:
        batch.drop_column("category")
