"""Fixtures shared by the test modules: the databases.

``db_url`` is parametrized over SQLite (a file) and PostgreSQL (a fresh schema per test), so
every test using it, or ``engine`` / ``repo``, runs on both backends. The migrations run once
per session, into a template per backend (on PostgreSQL: rendered as statements); ``engine``
fills the test's database with a copy of it. Tests of migration itself use ``db_url`` and
migrate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.db import make_engine, migrate
from storage.repository import Repository
from tests.storage_helpers import copy_of, pg_execute, pg_migration_sql, pg_schema_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite archive migrated once per session, to be copied."""
    path = tmp_path_factory.mktemp("template") / "archive.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> str:
    """The statements migrating an empty PostgreSQL schema, rendered once per session."""
    return pg_migration_sql()


@pytest.fixture
def migrated_sqlite(sqlite_template: Path, tmp_path: Path) -> str:
    """The URL of a migrated SQLite archive, ``archive.db`` in ``tmp_path``."""
    return copy_of(sqlite_template, tmp_path / "archive.db")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive' / 'test.db'}"
    else:
        with pg_schema_url() as url:
            yield url


@pytest.fixture
def engine(request: pytest.FixtureRequest, db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url``, filled with a copy of the migrated template."""
    engine = make_engine(db_url)
    if engine.dialect.name == "sqlite":
        copy_of(request.getfixturevalue("sqlite_template"), Path(str(engine.url.database)))
    else:
        pg_execute(db_url, request.getfixturevalue("pg_template"))
    yield engine
    engine.dispose()


@pytest.fixture
def repo(engine: Engine) -> Repository:
    return Repository(engine)
