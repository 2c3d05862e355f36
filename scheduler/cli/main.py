"""The ``kcna-monitor`` command line: one entry point.

Each command turns a domain error into one line on stderr and an exit code:
0 it ran, 1 it could not do its job (nothing fetched, database unreachable, no such
article), 2 the command line or configuration is wrong. The commands are grouped by what
they act on: the archive (:mod:`~scheduler.cli.archive`), reading it
(:mod:`~scheduler.cli.read`), searching it (:mod:`~scheduler.cli.search`), the daemon
(:mod:`~scheduler.cli.daemon`), monitoring (:mod:`~scheduler.cli.monitor`) and the reading
room (:mod:`~scheduler.cli.serve`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from scheduler import export
from scheduler.cli import archive, daemon, monitor, read, search, serve
from scheduler.cli.common import PROG, CommandError
from scheduler.cli.options import OneLineParser
from scheduler.configtypes import ConfigError
from scheduler.crawl.options import OptionError
from scheduler.daemon.startup import DaemonError
from storage.db import StorageError


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Archive and monitor KCNA (kcna.kp, English) and KCNA Watch.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    archive.register(sub)
    daemon.register(sub)
    read.register(sub)
    search.register(sub)
    monitor.register(sub)
    serve.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    try:
        return args.func(args, stream)
    except (OptionError, ConfigError) as exc:
        _error(exc)
        return 2
    except (CommandError, StorageError, DaemonError) as exc:
        _error(exc)
        return getattr(exc, "code", 1)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback only when debugging
        if getattr(args, "log_level", None) == "DEBUG":
            raise
        _error(
            f"unexpected {type(exc).__name__}: {exc} (run with --log-level DEBUG for the traceback)"
        )
        return 1


def _error(message: object) -> None:
    """Print an error as one line on stderr, whatever its text holds."""
    text = " ".join(str(message).split())
    print(export.printable(f"{PROG}: error: {text}"), file=sys.stderr)
