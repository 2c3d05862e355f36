"""Logging for the command line and the daemon: one line per event on stderr.

A failure's traceback helps whoever debugs the code, not whoever runs the crawler, so below
DEBUG level an exception is folded into its record's line as ``(ErrorType: message)``.
The format carries no colours or cursor tricks, so it reads the same in a terminal, a file
or the systemd journal.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record = logging.makeLogRecord(record.__dict__)
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return " ".join(super().format(record).split("\n"))


def setup_logging(level: str = "WARNING") -> None:
    """Send every log record of ``level`` and above to stderr, one line each below DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    if level.upper() == "DEBUG":
        handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    else:
        handler.setFormatter(OneLineFormatter(FORMAT, DATEFMT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler.setLevel(level.upper())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Scrapy's cookie handling asks tldextract, which tries to download the public suffix
    # list and, offline, logs a traceback before using its bundled copy: noise for users.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    if level.upper() != "DEBUG":
        # Alembic tells its plugins and its database dialect at INFO on every start; only
        # "Running upgrade ..." says something to a user.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        migration = logging.getLogger("alembic.runtime.migration")
        for old in [f for f in migration.filters if isinstance(f, _AlembicChatter)]:
            migration.removeFilter(old)
        migration.addFilter(_AlembicChatter())


class _AlembicChatter(logging.Filter):
    """Drops Alembic's start-up lines that say nothing about the schema."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))
