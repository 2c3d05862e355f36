"""Several daemons on one archive: nodes, run claims and fenced outcomes.

Adds ``cluster_nodes`` (each daemon's check-ins) and ``run_claims`` (which node holds each
scheduled run, its lease and token), ``crawl_runs.superseded_by`` (the run that took a run
over once its node's lease passed: the old node's outcome writes are refused) and
``notifications.lease_token`` (the deliverer holding a notification's lease).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node_id", sa.String(100), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running", sa.Text(), nullable=True),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name="pk_cluster_nodes"),
    )
    op.create_index("ix_cluster_nodes_checked_in_at", "cluster_nodes", ["checked_in_at"])
    op.create_table(
        "run_claims",
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node_id", sa.String(100), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('running', 'done', 'released')", name="ck_run_claims_state"),
        sa.PrimaryKeyConstraint("source", "slot_at", name="pk_run_claims"),
    )
    op.create_index("ix_run_claims_state_lease_until", "run_claims", ["state", "lease_until"])
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("superseded_by", sa.Integer(), nullable=True))
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("lease_token", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("lease_token")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("superseded_by")
    op.drop_index("ix_run_claims_state_lease_until", "run_claims")
    op.drop_table("run_claims")
    op.drop_index("ix_cluster_nodes_checked_in_at", "cluster_nodes")
    op.drop_table("cluster_nodes")
