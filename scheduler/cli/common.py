"""What the commands share: their one error type, the archive they open, files they write."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from crawler.sources import aggregator_hosts
from scheduler import export
from storage.db import make_engine, migrate, open_existing
from storage.errors import ArchiveMissing
from storage.records import ArticleView
from storage.repository import Repository

PROG = "kcna-monitor"


class CommandError(Exception):
    """A failure to report as one line; ``code`` is the exit status (2: a wrong command
    line or configuration, 1: the command could not do its job)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def open_repository(db_url: str) -> Repository:
    """The archive at ``db_url`` (from :func:`scheduler.config.resolve_db`) for a command
    that writes: created when there is none, its schema brought up to date."""
    engine = make_engine(db_url)
    migrate(engine)
    return Repository(engine, aggregator_hosts=aggregator_hosts())


def open_archive(db_url: str) -> Repository:
    """The archive at ``db_url`` for a command that only reads it: never created (no file,
    no folder); a one-line error (exit 1) when there is none. An archive of an older
    version has its schema brought up to date, as any command of this version would."""
    try:
        engine = open_existing(db_url)
    except ArchiveMissing as missing:
        raise CommandError(
            f"no archive at {missing.where} — run {PROG} crawl or {PROG} demo first"
        ) from None
    migrate(engine)
    return Repository(engine, aggregator_hosts=aggregator_hosts())


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def output_file(path: Path) -> Iterator[TextIO]:
    """:func:`scheduler.export.output_file`, a failure to write being one line (exit 1)."""
    try:
        with export.output_file(path) as handle:
            yield handle
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror or error}") from None


def write_atomically(path: Path, body: bytes) -> None:
    """Replace ``path`` at once, so a reader polling the file never sees half a feed."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror or error}") from None


def find_article(repo: Repository, wanted: str) -> ArticleView:
    """The article of this id or unique id prefix; a one-line error when there is none."""
    article = repo.articles.get(wanted)  # AmbiguousId is a StorageError: one line too
    if article is None:
        raise CommandError(f"no article with id {wanted!r}")
    return article
