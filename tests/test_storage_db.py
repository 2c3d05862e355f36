"""Engines, migrations and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from storage.db import alembic_config, make_engine, migrate, ping, translate_errors, writer
from storage.errors import DatabaseUnavailable, SchemaMissing
from storage.fulltext_schema import is_model_object
from storage.models import Base
from storage.repository import Repository
from tests.storage_helpers import make_item, require_pg

#: The full-text index's FTS5 tables and search_vector columns are not in the models.
COMPARE_OPTS = {"compare_type": True, "include_object": is_model_object}


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None when it was never migrated)."""
    with translate_errors(engine), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts=COMPARE_OPTS)
            assert compare_metadata(context, Base.metadata) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert current_revision(engine) == head
        migrate(engine)  # idempotent
        assert current_revision(engine) == head
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_the_tests_start_from_the_migrated_schema(engine: Engine) -> None:
    """What ``engine`` holds (a copy of the session's template; on PostgreSQL the migrations
    as rendered offline) is what migrating gives: the models at the latest revision."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=COMPARE_OPTS)
        assert compare_metadata(context, Base.metadata) == []
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head


def test_migration_downgrades_to_empty(db_url: str) -> None:
    from alembic import command

    engine = make_engine(db_url)
    try:
        migrate(engine)
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "archive.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
        assert pragma == {
            "journal_mode": "wal",
            "busy_timeout": 30000,
            "foreign_keys": 1,
            "synchronous": 1,  # NORMAL
        }
        assert path.exists()
    finally:
        engine.dispose()


def test_in_memory_sqlite_works() -> None:
    engine = make_engine("sqlite://")
    try:
        migrate(engine)
        repo = Repository(engine)
        repo.articles.save([make_item(1)])
        assert repo.articles.count() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url", ["postgresql://u@db.example/x", "postgres://u@db.example/x", "postgresql+psycopg://h/x"]
)
def test_postgres_urls_use_psycopg(url: str) -> None:
    engine = make_engine(url)
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "invalid database URL"),
        ("mysql://root:hunter2@localhost/db", "unsupported database URL"),
    ],
)
def test_bad_urls_are_reported_in_one_line(url: str, expected: str) -> None:
    with pytest.raises(DatabaseUnavailable) as error:
        make_engine(url)
    message = str(error.value)
    assert expected in message and "\n" not in message and "hunter2" not in message


def test_unreachable_postgres_is_one_clear_line() -> None:
    engine = make_engine("postgresql://someone:s3cret@127.0.0.1:1/archive?connect_timeout=3")
    with pytest.raises(DatabaseUnavailable) as error:
        migrate(engine)
    message = str(error.value)
    assert message.startswith("cannot open database postgresql://someone:***@127.0.0.1:1/archive")
    assert "refused" in message.lower()
    assert "\n" not in message and "s3cret" not in message and "Traceback" not in message


def test_ping_names_an_unreachable_database() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(DatabaseUnavailable, match="cannot open database"):
        ping(engine)


@pytest.mark.postgres
def test_missing_postgres_database_is_one_clear_line() -> None:
    url = make_url(require_pg()).set(database="kcna_no_such_db", password="s3cret")
    engine = make_engine(url.render_as_string(hide_password=False))
    with pytest.raises(DatabaseUnavailable) as error:
        Repository(engine).articles.count()
    message = str(error.value)
    assert 'database "kcna_no_such_db" does not exist' in message
    assert message.startswith("cannot open database postgresql://")
    assert "\n" not in message and "s3cret" not in message and "SELECT" not in message


def test_folder_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseUnavailable, match="cannot create folder"):
        make_engine(f"sqlite:///{blocker / 'archive.db'}")


def test_sqlite_locked_past_the_timeout(migrated_sqlite: str) -> None:
    url = migrated_sqlite
    holder = make_engine(url)
    impatient = make_engine(url, busy_timeout=0.05)
    try:
        with writer(holder).connect() as connection:
            connection.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held
            with pytest.raises(DatabaseUnavailable) as error:
                Repository(impatient).articles.save([make_item(1)])
        message = str(error.value)
        assert "database is locked" in message and "0.05 s" in message
        assert "\n" not in message and "INSERT" not in message
        assert Repository(impatient).articles.save([make_item(1)])  # free again
    finally:
        holder.dispose()
        impatient.dispose()


def test_unmigrated_database_says_so(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(SchemaMissing, match="migrate"):
            Repository(engine).articles.count()
        assert current_revision(engine) is None
    finally:
        engine.dispose()
