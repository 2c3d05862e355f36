"""Initial archive schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Written to match storage/models.py at this revision; it deliberately does not import the
models, so later model changes cannot rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _article_fk() -> sa.Column:
    return sa.Column("article_id", sa.String(32), nullable=False)


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("published_from", sa.String(20), nullable=True),
        sa.Column("dateline", sa.Text(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("version_count", sa.Integer(), nullable=False),
        _timestamp("first_seen"),
        _timestamp("last_seen"),
        sa.PrimaryKeyConstraint("id", name="pk_articles"),
    )
    for column in ("first_seen", "last_seen", "published", "source"):
        op.create_index(f"ix_articles_{column}", "articles", [column])

    op.create_table(
        "article_keys",
        sa.Column("key", sa.Text(), nullable=False),
        _article_fk(),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_article_keys_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name="pk_article_keys"),
    )
    op.create_index("ix_article_keys_article_id", "article_keys", ["article_id"])

    op.create_table(
        "article_urls",
        sa.Column("url", sa.Text(), nullable=False),
        _article_fk(),
        _timestamp("first_seen"),
        _timestamp("last_seen"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_article_urls_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("url", name="pk_article_urls"),
    )
    op.create_index("ix_article_urls_article_id", "article_urls", ["article_id"])

    op.create_table(
        "article_versions",
        _article_fk(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("dateline", sa.Text(), nullable=True),
        _timestamp("first_seen"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_article_versions_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "number", name="pk_article_versions"),
    )

    op.create_table(
        "raw_pages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=True),
        sa.Column("parser_version", sa.String(100), nullable=False),
        _timestamp("first_fetched"),
        _timestamp("last_fetched"),
        sa.PrimaryKeyConstraint("id", name="pk_raw_pages"),
        sa.UniqueConstraint("url", "sha256", name="uq_raw_pages_url_sha256"),
    )
    op.create_index("ix_raw_pages_last_fetched", "raw_pages", ["last_fetched"])

    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at", nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'ok', 'failed', 'interrupted')", name="ck_crawl_runs_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_crawl_runs"),
    )
    op.create_index("ix_crawl_runs_source_started_at", "crawl_runs", ["source", "started_at"])
    op.create_index("ix_crawl_runs_started_at", "crawl_runs", ["started_at"])

    op.create_table(
        "crawl_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _timestamp("at"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name="fk_crawl_failures_run_id_crawl_runs",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_crawl_failures"),
    )
    op.create_index("ix_crawl_failures_at", "crawl_failures", ["at"])
    op.create_index("ix_crawl_failures_run_id", "crawl_failures", ["run_id"])


def downgrade() -> None:
    for table in (
        "crawl_failures",
        "crawl_runs",
        "raw_pages",
        "article_versions",
        "article_urls",
        "article_keys",
        "articles",
    ):
        op.drop_table(table)
