"""Who ran each crawl run, and what kind of run it was.

Adds ``pid`` and ``host`` (the process that records the run's outcome), so that a run left
``running`` by a crawl that died can be told from one still going and settled, and ``kind``
(``crawl``, ``backfill`` or ``recheck``), so that a crawl knows whether the last crawl of its
source finished its listings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("kind")
        batch.drop_column("host")
        batch.drop_column("pid")
