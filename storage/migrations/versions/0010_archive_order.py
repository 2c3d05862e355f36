"""Indexes for reading the archive in its two orders, page after page.

``ix_articles_newest`` holds the publication order (undated articles as the oldest date) with
first sighting and id as tie-breakers; ``ix_articles_first_seen_id`` the order of arrival.
A page continues from the last row's key (``storage.paging``), a range scan of one of them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_articles_newest",
        "articles",
        [sa.text("coalesce(published, '0001-01-01')"), "first_seen", "id"],
    )
    op.create_index("ix_articles_first_seen_id", "articles", ["first_seen", "id"])


def downgrade() -> None:
    op.drop_index("ix_articles_first_seen_id", table_name="articles")
    op.drop_index("ix_articles_newest", table_name="articles")
