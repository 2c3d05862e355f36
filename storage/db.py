"""Engines, schema migration and translation of driver errors into :mod:`storage.errors`.

``make_engine`` accepts ``sqlite:///path/to/file.db`` (the folder is created), ``sqlite://``
(in memory) and ``postgresql://`` / ``postgres://`` URLs, which use the psycopg 3 driver.
``open_existing`` opens only an archive that is already there, creating nothing.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, exc, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import StaticPool

from storage.errors import ArchiveMissing, DatabaseUnavailable, SchemaMissing, StorageError

if TYPE_CHECKING:
    from alembic.config import Config

#: Execution option naming the BEGIN statement SQLite transactions start with.
SQLITE_BEGIN_OPTION = "storage_sqlite_begin"
#: Execution option remembering the SQLite busy timeout, for error messages.
BUSY_TIMEOUT_OPTION = "storage_busy_timeout"
#: Key of the PostgreSQL advisory lock held while migrating.
MIGRATION_LOCK_KEY = 0x6B636E61  # "kcna"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The table Alembic records the schema revision in: a database that has it, with a row,
#: holds an archive.
VERSION_TABLE = "alembic_version"

_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def _mask_password(raw: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", raw)


def display_url(url: str | URL) -> str:
    """A database URL fit for messages: password masked, driver name dropped."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except (exc.ArgumentError, ValueError):
            return _mask_password(url)
    shown = url.set(drivername=url.get_backend_name())
    return shown.render_as_string(hide_password=True)


def _normalise_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except exc.ArgumentError as error:
        raise DatabaseUnavailable(f"invalid database URL {_mask_password(raw)!r}") from error
    except ValueError as error:  # a part that must be a number is not, e.g. the port
        raise DatabaseUnavailable(
            f"invalid database URL {_mask_password(raw)!r}: the port must be a number"
        ) from error
    backend = url.get_backend_name()
    if url.drivername in _PG_SCHEMES or backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url
    raise DatabaseUnavailable(
        f"unsupported database URL {display_url(url)}: use sqlite:///FILE or postgresql://..."
    )


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def make_engine(url: str, *, busy_timeout: float = 30.0, echo: bool = False) -> Engine:
    """An engine for ``url``, configured for the archive's concurrent use.

    SQLite gets WAL journaling, a ``busy_timeout`` (seconds) during which writers wait for
    each other, foreign keys and ``synchronous=NORMAL``; writes through the stores take
    the write lock at the start of their transaction. PostgreSQL uses psycopg 3 with
    ``pool_pre_ping``. Raises :class:`DatabaseUnavailable` for a bad or unsupported URL.
    """
    parsed = _normalise_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is None:
            kwargs["poolclass"] = StaticPool
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseUnavailable(
                    f"cannot open database {display_url(parsed)}: cannot create folder "
                    f"{path.parent}: {error.strerror or error}"
                ) from error
        kwargs["connect_args"] = {"timeout": busy_timeout, "check_same_thread": False}
        kwargs["execution_options"] = {BUSY_TIMEOUT_OPTION: busy_timeout}
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine, busy_timeout, in_memory=path is None)
        return engine
    kwargs["pool_pre_ping"] = True
    # Never prepare statements: a prepared statement may switch to a generic plan, which for
    # full-text search cannot tell a word in every article from a word in a few (one plan
    # for both took a search from 10 ms to 400 ms). Each statement is planned for its values.
    connect_args: dict[str, Any] = {"prepare_threshold": None}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = 10
    return create_engine(parsed, connect_args=connect_args, **kwargs)


def open_existing(url: str, *, busy_timeout: float = 30.0) -> Engine:
    """An engine for the archive at ``url``, which must be there already.

    Raises :class:`ArchiveMissing` when it is not: an SQLite file that does not exist (or is
    empty), or a database whose schema was never migrated. Nothing is created, not even an
    SQLite file's folder. The schema is not brought up to date (see :func:`migrate`)."""
    parsed = _normalise_url(url)
    where = display_url(parsed)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            where = str(path)
            if not path.is_file() or path.stat().st_size == 0:
                raise ArchiveMissing(where)
    engine = make_engine(url, busy_timeout=busy_timeout)
    try:
        present = has_archive(engine)
    except BaseException:
        engine.dispose()
        raise
    if not present:
        engine.dispose()
        raise ArchiveMissing(where)
    return engine


def has_archive(engine: Engine) -> bool:
    """Whether the database behind ``engine`` holds an archive: its schema was migrated."""
    with translate_errors(engine), engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return False
        rows = connection.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one()
        return bool(rows)


def _configure_sqlite(engine: Engine, busy_timeout: float, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                _use_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """Put the file in WAL mode (it stays so). Switching needs the file to itself, and SQLite
    answers "database is locked" at once, without waiting its busy timeout, when another
    connection switches or reads at that moment (two processes opening a new archive): so the
    switch is tried again, for up to the busy timeout."""
    deadline = time.monotonic() + busy_timeout
    pause = 0.01
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def writer(engine: Engine) -> Engine:
    """The same engine, but its SQLite transactions take the write lock when they begin.

    Taking the lock first means a read-then-write transaction never works from a stale
    snapshot and never fails half-way with "database is locked". No effect on PostgreSQL.
    """
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def _driver_message(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    message = str(original).strip()
    message = re.sub(r"^connection failed:\s*", "", message)
    message = re.sub(r'^connection to server at "[^"]*"(, port \d+)? failed:\s*', "", message)
    message = re.sub(r"\bFATAL:\s+", "", message)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1:
        lines = [lines[0], *(line[:1].lower() + line[1:] for line in lines[1:])]
    message = "; ".join(lines)
    return message or type(original).__name__


#: SQLite result codes of a file that is not (or no longer) an SQLite database.
_SQLITE_NOT_A_DATABASE = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _is_not_a_database(error: exc.DBAPIError) -> bool:
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code in _SQLITE_NOT_A_DATABASE or "file is not a database" in str(error.orig)


def _is_missing_table(error: exc.DBAPIError) -> bool:
    text_ = str(error.orig).lower()
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate == "42P01" or "no such table" in text_


def describe(url: str | URL, error: BaseException, *, busy_timeout: float | None = None) -> str:
    """One line saying why the database at ``url`` cannot be used."""
    message = _driver_message(error)
    if "database is locked" in message and busy_timeout is not None:
        message = f"database is locked: another process held it for more than {busy_timeout:g} s"
    return f"cannot open database {display_url(url)}: {message}"


@contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Turn connection and locking failures into :class:`DatabaseUnavailable` and a missing
    schema into :class:`SchemaMissing`; other errors pass through unchanged."""
    try:
        yield
    except StorageError:
        raise
    except exc.DBAPIError as error:
        if _is_missing_table(error):
            raise SchemaMissing(
                f"database {display_url(engine.url)} has no archive tables "
                f"(migrate it first): {_driver_message(error)}"
            ) from error
        if (
            isinstance(error, exc.OperationalError | exc.InterfaceError)
            or error.connection_invalidated
            or _is_not_a_database(error)
        ):
            raise DatabaseUnavailable(
                describe(engine.url, error, busy_timeout=_busy_timeout(engine))
            ) from error
        raise


def ping(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` unless the database behind ``engine`` answers."""
    with translate_errors(engine), engine.connect() as connection:
        connection.execute(text("SELECT 1")).scalar_one()


def _busy_timeout(engine: Engine) -> float | None:
    value = engine.get_execution_options().get(BUSY_TIMEOUT_OPTION)
    return float(value) if value is not None else None


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration for the migrations shipped in this package (no ini file).

    Alembic is imported here and in :func:`migrate`, not with this module: a command that
    never touches the schema (``--help``, a config check) does not pay for loading it."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision. Idempotent; safe when several processes start
    at once (SQLite: the write lock is held for the whole upgrade; PostgreSQL: an advisory lock)."""
    from alembic import command

    config = alembic_config()
    with translate_errors(engine), writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
