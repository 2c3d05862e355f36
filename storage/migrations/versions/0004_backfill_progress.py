"""How far each backfill of a listing has got, so an interrupted backfill resumes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backfill_progress",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("listing_url", sa.Text(), nullable=False),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "listing_url", name="pk_backfill_progress"),
    )


def downgrade() -> None:
    op.drop_table("backfill_progress")
