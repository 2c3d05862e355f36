"""Article gone marks and the events of articles (edited, gone, back).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "article_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('new', 'edited', 'gone', 'back')", name="ck_article_events_kind"
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_article_events_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_article_events"),
    )
    op.create_index("ix_article_events_article_id", "article_events", ["article_id"])
    op.create_index("ix_article_events_at", "article_events", ["at"])
    op.create_table(
        "listing_snapshots",
        sa.Column("listing", sa.Text(), nullable=False),
        sa.Column("article_ids", sa.JSON(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("listing", name="pk_listing_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("listing_snapshots")
    op.drop_index("ix_article_events_at", table_name="article_events")
    op.drop_index("ix_article_events_article_id", table_name="article_events")
    op.drop_table("article_events")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("checked_at")
        batch.drop_column("gone_at")
