"""Errors raised by the storage package. Their ``str()`` is one line a user can act on."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error the storage package raises on purpose."""


class DatabaseUnavailable(StorageError):
    """The database cannot be used: bad URL, cannot connect, or locked for too long."""


class SchemaMissing(StorageError):
    """The database is reachable but has no (or an outdated) archive schema."""


class ArchiveMissing(StorageError):
    """There is no archive at the URL: an SQLite file that does not exist, or a database
    without the archive's tables. ``where`` names it for a message (a path or a URL)."""

    def __init__(self, where: str) -> None:
        super().__init__(f"no archive at {where}")
        self.where = where


class AmbiguousId(StorageError, LookupError):
    """An article id prefix is too short or matches several articles."""

    def __init__(self, message: str, matches: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.matches = matches


class UnknownRun(StorageError, LookupError):
    """A crawl run id that does not exist."""


class RunSuperseded(StorageError):
    """A write of a run's outcome refused: another node took the run over once this node's
    lease had passed (see :mod:`storage.cluster`)."""
