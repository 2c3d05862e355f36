"""Command-line options that several commands share, defined once."""

from __future__ import annotations

import argparse
from datetime import date

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
