"""Watch-rule notifications (outbox) and source health alarms.

Adds ``watch_matches`` (one row per rule, article and version matched), ``notifications``
(the outbox), ``watch_cursor`` (the last article event processed), ``source_alarms`` and
``run_stats`` (what each crawl run parsed).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watch_matches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("article_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("dedup", sa.String(100), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("event IN ('new', 'edited', 'gone')", name="ck_watch_matches_event"),
        sa.PrimaryKeyConstraint("id", name="pk_watch_matches"),
        sa.UniqueConstraint(
            "rule", "article_id", "dedup", name="uq_watch_matches_rule_article_id_dedup"
        ),
    )
    op.create_index("ix_watch_matches_article_id", "watch_matches", ["article_id"])
    op.create_index("ix_watch_matches_rule_matched_at", "watch_matches", ["rule", "matched_at"])

    op.create_table(
        "source_alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_source_alarms"),
    )
    op.create_index(
        "uq_source_alarms_active",
        "source_alarms",
        ["source", "kind"],
        unique=True,
        sqlite_where=sa.text("cleared_at IS NULL"),
        postgresql_where=sa.text("cleared_at IS NULL"),
    )
    op.create_index("ix_source_alarms_since", "source_alarms", ["since"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("article_id", sa.String(32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'given_up')", name="ck_notifications_status"
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["watch_matches.id"],
            name="fk_notifications_match_id_watch_matches",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["source_alarms.id"],
            name="fk_notifications_alarm_id_source_alarms",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("match_id", "target", name="uq_notifications_match_id_target"),
    )
    op.create_index("ix_notifications_alarm_id", "notifications", ["alarm_id"])
    op.create_index(
        "ix_notifications_status_next_attempt_at", "notifications", ["status", "next_attempt_at"]
    )

    op.create_table(
        "watch_cursor",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_watch_cursor"),
    )

    op.create_table(
        "run_stats",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("listing_pages", sa.Integer(), nullable=False),
        sa.Column("empty_listings", sa.Integer(), nullable=False),
        sa.Column("articles_parsed", sa.Integer(), nullable=False),
        sa.Column("parse_failures", sa.Integer(), nullable=False),
        sa.Column("not_articles", sa.Integer(), nullable=False),
        sa.Column("fetch_failures", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name="fk_run_stats_run_id_crawl_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_stats"),
    )


def downgrade() -> None:
    op.drop_table("run_stats")
    op.drop_table("watch_cursor")
    op.drop_index("ix_notifications_status_next_attempt_at", table_name="notifications")
    op.drop_index("ix_notifications_alarm_id", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_source_alarms_since", table_name="source_alarms")
    op.drop_index("uq_source_alarms_active", table_name="source_alarms")
    op.drop_table("source_alarms")
    op.drop_index("ix_watch_matches_rule_matched_at", table_name="watch_matches")
    op.drop_index("ix_watch_matches_article_id", table_name="watch_matches")
    op.drop_table("watch_matches")
