"""Command-line options that several commands share, defined once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import NoReturn

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: The largest whole number any option takes (counts, offsets, pages, ids): far beyond any
#: real archive, well inside what the databases' integers and Python's C calls hold.
MAX_WHOLE = 1_000_000_000


class OneLineParser(argparse.ArgumentParser):
    """An argument parser that reports a mistake in one line on stderr (exit status 2),
    pointing at ``--help`` instead of printing the usage above it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


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
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $KCNA_MONITOR_DB, else [database] url of the config file,"
        " else a SQLite file in the user's data folder)",
    )


def add_config(parser: argparse.ArgumentParser) -> None:
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
    """``--base-url`` and ``--set``, for every command that crawls."""
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="fetch from this mirror or local copy; stored URLs still name the public host",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="pass a Scrapy setting through (repeatable)",
    )
