"""Command-line options that several commands share, defined once."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import NoReturn

from dateutil.parser import parse as dateutil_parse

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: The largest whole number any option takes (counts, offsets, pages, ids): far beyond any
#: real archive, well inside what the databases' integers and Python's C calls hold.
MAX_WHOLE = 1_000_000_000
#: How ``--since``/``--until`` may be written, for their error messages.
DATE_HINT = "e.g. 2024-05-01, 2024/5/1, 1 May 2024 or May 1 2024"
#: Two defaults that differ in year, month and day: dateutil fills a part the text lacks from
#: its ``default``, so two readings agree only when the text gave all three.
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))
_YEAR_FIRST = re.compile(r"\s*\d{4}")
_FULL_YEAR = re.compile(r"\d{4}")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser that reports a mistake in one line on stderr (exit status 2),
    pointing at ``--help`` instead of printing the usage above it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def user_date(text: str) -> date:
    """An argparse ``type`` for a calendar date as a user types it (:data:`DATE_HINT`).

    Year first is read year, month, day (ISO's order); the month may be named, before or after
    the day. A text lacking the day, the month or the full year is refused rather than
    completed, and so are numbers that read as two dates (``01/05/2024``: 1 May or 5 January?).
    """
    # dateutil asked for day first would read year-first numbers as year, day, month.
    orders = (False,) if _YEAR_FIRST.match(text) else (False, True)
    readings = {_reading(text, dayfirst=dayfirst) for dayfirst in orders}
    if None in readings or not _FULL_YEAR.search(text):
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (write day, month and full year, {DATE_HINT})"
        )
    first, *other = sorted(filter(None, readings))
    if other:
        raise argparse.ArgumentTypeError(
            f"ambiguous date: {text!r} ({first} or {other[0]}?): write the year first"
            " or the month's name"
        )
    return first


def _reading(text: str, *, dayfirst: bool) -> date | None:
    """dateutil's reading of ``text``; None when it cannot read it or had to fill a part in."""
    try:
        first, second = (
            dateutil_parse(text, dayfirst=dayfirst, default=d).date() for d in _DEFAULTS
        )
    except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
        return None
    return first if first == second else None


def whole_number(minimum: int = 1, maximum: int = MAX_WHOLE) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number from ``minimum`` to ``maximum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {text}")
        return value

    return parse


#: A count of at least 1 (``--limit``, ``--max-pages``, ...).
positive_int = whole_number(1)
#: A count that may be 0 (``--offset``).
non_negative_int = whole_number(0)


def add_db(parser: argparse.ArgumentParser) -> None:
    """``--db`` and ``--config``: every command opens the database they name the same way
    (:func:`scheduler.config.resolve_db`)."""
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $KCNA_MONITOR_DB, else [database] url of the config file,"
        " else a SQLite file in the user's data folder)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $KCNA_MONITOR_CONFIG, else"
        " ~/.config/kcna-monitor/config.toml if it exists, else built-in defaults)",
    )


def add_log_level(parser: argparse.ArgumentParser, default: str = "WARNING") -> None:
    parser.add_argument(
        "--log-level",
        default=default,
        type=str.upper,
        choices=LOG_LEVELS,
        help=f"how much to log on stderr (default: {default})",
    )


def add_fetch_options(parser: argparse.ArgumentParser) -> None:
    """``--base-url``, ``--proxy`` and ``--set``, for every command that crawls."""
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="fetch from this mirror or local copy; stored URLs still name the public host",
    )
    parser.add_argument(
        "--proxy",
        metavar="URL",
        help="fetch through this HTTP(S) proxy, e.g. http://127.0.0.1:3128 (default:"
        " $HTTP_PROXY / $HTTPS_PROXY, if set)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="pass a Scrapy setting through (repeatable)",
    )
