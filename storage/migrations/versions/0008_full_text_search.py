"""The full-text search index over articles and their versions.

SQLite: FTS5 tables ``articles_fts`` and ``versions_fts`` (porter stemming, unicode61 with
diacritics removed) over the current and every earlier title and text, kept in step by
triggers. PostgreSQL: a generated ``search_vector`` column (title weighted A, text B) with a
GIN index on ``articles`` and ``article_versions``. An existing archive is indexed here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FTS = {"articles_fts": "articles", "versions_fts": "article_versions"}
_TOKENIZE = "porter unicode61 remove_diacritics 2"
_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(text, '')), 'B')"
)


def _sqlite_upgrade(fts: str, content: str) -> None:
    insert = f"INSERT INTO {fts}(rowid, title, text) VALUES (new.rowid, new.title, new.text);"
    delete = (
        f"INSERT INTO {fts}({fts}, rowid, title, text)"
        f" VALUES ('delete', old.rowid, old.title, old.text);"
    )
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(title, text,"
        f" content='{content}', content_rowid='rowid', tokenize='{_TOKENIZE}')"
    )
    op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {content} BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {content} BEGIN {delete} END")
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF title, text ON {content}"
        f" WHEN old.title IS NOT new.title OR old.text IS NOT new.text"
        f" BEGIN {delete} {insert} END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for fts, content in _FTS.items():
            _sqlite_upgrade(fts, content)
        return
    for table in _FTS.values():
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector"
            f" GENERATED ALWAYS AS ({_VECTOR}) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for fts in _FTS:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{event}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
        return
    for table in _FTS.values():
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_vector")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
