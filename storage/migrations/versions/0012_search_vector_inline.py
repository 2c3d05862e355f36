"""PostgreSQL keeps each row's search vector in the row itself (``STORAGE MAIN``).

A search reads the ``search_vector`` of many rows: to check a phrase (the GIN index holds no
word positions) and to find the newest matches of a common word. Stored out of line (the
default for a value this size beside the article's text), each one cost a TOAST index lookup
and a page more; kept in the row (compressed when needed), the article's text goes out of
line instead. The tables are rewritten here (``CLUSTER``: ``articles`` in the order of
arrival that searches read it in), which holds a lock on each for as long as that takes
(about 20 seconds for 200,000 articles). SQLite has nothing to change.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Each table with a search vector, and the index its rows are rewritten in the order of.
_TABLES = {"articles": "ix_articles_first_seen_id", "article_versions": "pk_article_versions"}


def _storage(strategy: str) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table, index in _TABLES.items():
        op.execute(f"ALTER TABLE {table} ALTER COLUMN search_vector SET STORAGE {strategy}")
        op.execute(f"CLUSTER {table} USING {index}")
        op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    _storage("MAIN")


def downgrade() -> None:
    _storage("EXTENDED")
