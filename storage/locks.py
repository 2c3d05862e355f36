"""One holder per database: the lock a long-running writer (the monitoring daemon) holds.

The lock dies with its holder, so a crashed or killed process never leaves it behind:

- SQLite: an OS file lock on ``<database file>.lock`` next to the database;
- PostgreSQL: a session advisory lock, on a connection kept open for as long as the lock is
  held, keyed by the schema the archive lives in (so two archives in two schemas of one
  database do not exclude each other);
- an in-memory SQLite database belongs to one process anyway: nothing to lock.

Other processes (one-off crawls, readers) do not take this lock; it only keeps two daemons
off one archive.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, exc, text

from storage.db import _normalise_url, _sqlite_file, display_url, make_engine, translate_errors
from storage.errors import StorageError

#: What the advisory lock key is derived from (with the schema name).
_PG_KEY_PREFIX = b"kcna-monitor daemon lock:"
_PG_LOCK_NOT_AVAILABLE = "55P03"


class LockHeld(StorageError):
    """Another process holds the lock."""


def lock_file_of(url: str) -> Path | None:
    """The lock file of a SQLite database URL (None for in-memory or PostgreSQL)."""
    parsed = _normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    path = _sqlite_file(parsed)
    return None if path is None else path.with_name(path.name + ".lock")


def _pg_key(schema: str) -> int:
    digest = hashlib.sha256(_PG_KEY_PREFIX + schema.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class DatabaseLock:
    """An exclusive, process-wide lock on the archive at ``url``.

    ``acquire`` waits at most ``timeout`` seconds, then raises :class:`LockHeld`;
    ``release`` is idempotent. Usable as a context manager.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._backend = _normalise_url(url).get_backend_name()
        self._file = lock_file_of(url)
        self._file_lock: FileLock | None = None
        self._engine: Engine | None = None
        self._connection: Connection | None = None
        self._key: int | None = None

    @property
    def held(self) -> bool:
        return self._file_lock is not None or self._connection is not None

    def describe(self) -> str:
        """Where the lock lives, for messages."""
        if self._file is not None:
            return str(self._file)
        if self._backend == "postgresql":
            return f"an advisory lock in {display_url(self.url)}"
        return "nothing (in-memory database)"

    def acquire(self, timeout: float = 0.0) -> None:
        if self.held:
            return
        if self._file is not None:
            self._acquire_file(self._file, timeout)
        elif self._backend == "postgresql":
            self._acquire_pg(timeout)

    def _acquire_file(self, path: Path, timeout: float) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create lock file {path}: {error.strerror}") from error
        lock = FileLock(path, thread_local=False)
        try:
            lock.acquire(timeout=max(timeout, 0.0))
        except Timeout:
            raise LockHeld(f"{display_url(self.url)} is locked by another process") from None
        except OSError as error:
            raise StorageError(f"cannot lock {path}: {error.strerror or error}") from error
        self._file_lock = lock

    def _acquire_pg(self, timeout: float) -> None:
        engine = make_engine(self.url)
        try:
            with translate_errors(engine):
                connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                with translate_errors(engine):
                    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
                    key = _pg_key(str(schema))
                    got = self._pg_wait(connection, key, timeout)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            engine.dispose()
            raise
        if not got:
            connection.close()
            engine.dispose()
            raise LockHeld(f"{display_url(self.url)} is locked by another process")
        self._engine, self._connection, self._key = engine, connection, key

    @staticmethod
    def _pg_wait(connection: Connection, key: int, timeout: float) -> bool:
        if timeout <= 0:
            return bool(
                connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            )
        connection.execute(text(f"SET lock_timeout = {int(timeout * 1000)}"))
        try:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        except exc.DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
                return False
            raise
        finally:
            connection.execute(text("SET lock_timeout = 0"))
        return True

    def release(self) -> None:
        if self._file_lock is not None:
            lock, self._file_lock = self._file_lock, None
            lock.release()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            except exc.DBAPIError:
                pass  # a lost connection has released the lock already
            finally:
                connection.close()
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.dispose()

    def is_held_elsewhere(self) -> bool:
        """Whether another process holds the lock now (takes and drops it to find out)."""
        if self.held:
            return False
        try:
            self.acquire(timeout=0)
        except LockHeld:
            return True
        self.release()
        return False

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
