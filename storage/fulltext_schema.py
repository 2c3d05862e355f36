"""The full-text index of the archive: its objects on each database, and rebuilding them.

- SQLite: FTS5 tables ``articles_fts`` (the current title and text of each article) and
  ``versions_fts`` (every version's), external-content tables over ``articles`` and
  ``article_versions`` (matched by rowid), kept in step by triggers, so every article write
  updates the index in its own transaction.
- PostgreSQL: a generated ``search_vector`` column on ``articles`` and ``article_versions``
  (title weighted A, text B) with a GIN index, stored in the row (``STORAGE MAIN``).

These objects are not in the models (:mod:`storage.models`): :func:`is_model_object` tells a
schema comparison to leave them out. Migration ``0008`` creates them; :func:`rebuild` makes
them again from the stored articles (``kcna-monitor reindex``; on PostgreSQL it rewrites the
two tables, as ``CLUSTER``, holding a lock on each meanwhile). A later migration that
recreates ``articles`` or ``article_versions`` on SQLite (a batch ``ALTER``) drops their
triggers and renumbers their rowids: it must end with :func:`rebuild`'s statements.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

#: FTS5 tables and the tables they index: the FTS5 table's name -> the content table.
FTS_TABLES = {"articles_fts": "articles", "versions_fts": "article_versions"}
#: The tables with a ``search_vector`` column on PostgreSQL.
VECTOR_TABLES = ("articles", "article_versions")
VECTOR_COLUMN = "search_vector"
#: The index each of those tables is rewritten in the order of (``articles``: arrival, the
#: order a search reads the newest matches in).
REWRITE_ORDER = {"articles": "ix_articles_first_seen_id", "article_versions": "pk_article_versions"}
TOKENIZE = "porter unicode61 remove_diacritics 2"


def _sqlite_statements(fts: str, content: str) -> list[str]:
    insert = f"INSERT INTO {fts}(rowid, title, text) VALUES (new.rowid, new.title, new.text);"
    delete = (
        f"INSERT INTO {fts}({fts}, rowid, title, text)"
        f" VALUES ('delete', old.rowid, old.title, old.text);"
    )
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(title, text,"
        f" content='{content}', content_rowid='rowid', tokenize='{TOKENIZE}')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_insert AFTER INSERT ON {content} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_delete AFTER DELETE ON {content} BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_update AFTER UPDATE OF title, text ON {content}"
        f" WHEN old.title IS NOT new.title OR old.text IS NOT new.text"
        f" BEGIN {delete} {insert} END",
    ]


def _pg_statements(table: str) -> list[str]:
    vector = (
        "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')"
        " || setweight(to_tsvector('english'::regconfig, coalesce(text, '')), 'B')"
    )
    return [
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {VECTOR_COLUMN} tsvector"
        f" GENERATED ALWAYS AS ({vector}) STORED",
        f"CREATE INDEX IF NOT EXISTS ix_{table}_{VECTOR_COLUMN} ON {table}"
        f" USING gin ({VECTOR_COLUMN})",
        # Kept in the row, the text out of line instead (migration 0012 says why).
        f"ALTER TABLE {table} ALTER COLUMN {VECTOR_COLUMN} SET STORAGE MAIN",
    ]


def create_statements(dialect: str) -> list[str]:
    """The statements creating the index objects that are missing (idempotent)."""
    if dialect == "sqlite":
        return [s for fts, content in FTS_TABLES.items() for s in _sqlite_statements(fts, content)]
    return [s for table in VECTOR_TABLES for s in _pg_statements(table)]


def rebuild(connection: Connection) -> None:
    """Create what is missing of the index and rebuild it from the stored articles."""
    dialect = connection.dialect.name
    for statement in create_statements(dialect):
        connection.exec_driver_sql(statement)
    if dialect == "sqlite":
        for fts in FTS_TABLES:
            connection.exec_driver_sql(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    else:
        # A rewrite of each table rebuilds all its indexes, the GIN index too, and puts
        # every search vector in its row (a column just added was written out of line).
        for table in VECTOR_TABLES:
            connection.exec_driver_sql(f"CLUSTER {table} USING {REWRITE_ORDER[table]}")
            connection.exec_driver_sql(f"ANALYZE {table}")


def is_model_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object``: False for the full-text index's own objects (FTS5
    tables and their shadow tables, ``search_vector`` columns and their indexes), which the
    models do not declare; True for everything else."""
    if name is None:
        return True
    if type_ == "table":
        return not any(name == fts or name.startswith(f"{fts}_") for fts in FTS_TABLES)
    if type_ == "column" and name == VECTOR_COLUMN:
        return getattr(getattr(obj, "table", None), "name", None) not in VECTOR_TABLES
    if type_ == "index":
        return name not in {f"ix_{table}_{VECTOR_COLUMN}" for table in VECTOR_TABLES}
    return True
