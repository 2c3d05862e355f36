"""The unit of work every store of the archive is built on, written once.

A store (:class:`UnitOfWork` subclass) wraps an engine; each of its public methods is one
unit of work with its own session and transaction:

- :meth:`UnitOfWork._read` runs a read in a transaction of its own;
- :meth:`UnitOfWork._write` runs a write in a transaction that (on SQLite) takes the write
  lock when it begins, and runs it again when it lost a race: when the work raises
  :class:`RaceLost` (a concurrent transaction created a row it was about to create) or the
  database chose it as a deadlock victim or could not serialise it. The last attempt is told
  so, to settle the race for good (the article store locks the articles table then);
- :func:`insert` is the dialect's own ``INSERT`` (with ``ON CONFLICT``): rows are added on
  natural keys, never check-then-insert.

Driver errors become :mod:`storage.errors` (see :func:`storage.db.translate_errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, Table, exc, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import translate_errors, writer

T = TypeVar("T")

#: Rows per INSERT statement and values per IN list: well under both backends' limits.
CHUNK = 500
#: Attempts of a write that lost a race or was chosen as a deadlock victim.
ATTEMPTS = 6
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


class RaceLost(Exception):
    """A concurrent transaction created a row this one was about to create: run it again."""


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dialect_of(session: Session) -> str:
    """``postgresql`` or ``sqlite``: the database the session works on."""
    return session.get_bind().dialect.name


def insert(session: Session, table: Table) -> Any:
    """The dialect's ``INSERT`` into ``table``, which knows ``ON CONFLICT``."""
    if dialect_of(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(session: Session, table: Table, keys: Sequence[str], columns: Iterable[str]) -> Any:
    """``INSERT`` into ``table`` that, on a conflict on ``keys``, sets ``columns`` to the
    values given (run it with rows as parameters, or add ``.values``)."""
    statement = insert(session, table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: statement.excluded[name] for name in columns},
    )


def greatest(session: Session, *values: Any) -> ColumnElement[Any]:
    """The largest of ``values``, in SQL (``max`` of several values in SQLite)."""
    if dialect_of(session) == "sqlite":
        return func.max(*values)
    return func.greatest(*values)


class UnitOfWork:
    """Reads and writes through ``engine`` (see :func:`storage.db.make_engine`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def _read(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in one read transaction."""
        with translate_errors(self._engine), Session(self._engine) as session, session.begin():
            return work(session)

    def _write(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in one write transaction, run again when it lost a race."""
        return self._write_attempts(lambda session, _last: work(session))

    def _write_attempts(self, work: Callable[[Session, bool], T]) -> T:
        """``work(session, last_attempt)`` in one write transaction, run again when it lost a
        race; ``last_attempt`` tells the work it must not raise :class:`RaceLost`."""
        with translate_errors(self._engine):
            for attempt in range(1, ATTEMPTS + 1):
                last = attempt == ATTEMPTS
                try:
                    with Session(self._writer) as session, session.begin():
                        return work(session, last)
                except RaceLost:
                    if last:
                        raise
                except exc.DBAPIError as error:
                    if last or getattr(error.orig, "sqlstate", None) not in _RETRY_SQLSTATES:
                        raise
        raise AssertionError("unreachable: the last attempt returns or raises")
