"""Fixtures of the storage tests; a test module loads them with
``pytest_plugins = ["tests.storage_fixtures"]``.

``db_url`` is parametrized over SQLite (a file) and PostgreSQL (a fresh schema per test), so
every test using it, or ``engine`` / ``repo``, runs on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.db import make_engine, migrate
from storage.repository import Repository
from tests.storage_helpers import pg_schema_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive' / 'test.db'}"
    else:
        with pg_schema_url() as url:
            yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine."""
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def repo(engine: Engine) -> Repository:
    return Repository(engine)
