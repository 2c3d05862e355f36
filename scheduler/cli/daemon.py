"""Commands of the monitoring daemon: ``run`` it, ask its ``status``, watch a ``demo``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any, TextIO

from scheduler import export
from scheduler.cli.common import open_archive
from scheduler.cli.options import add_db, add_log_level, positive_int, whole_number
from scheduler.config import load
from scheduler.daemon.service import Daemon
from scheduler.daemon.status import status_report, status_text
from scheduler.demo import run_demo
from scheduler.logs import setup_logging


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    config = load(args.config)
    setup_logging(args.log_level)
    daemon = Daemon(
        config,
        db_url=config.resolve_db(args.db),
        reload=lambda: load(args.config),
        log_level=args.log_level,
    )
    return daemon.run()


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    config = load(args.config)
    db_url = config.resolve_db(args.db)
    now = datetime.now(UTC)
    report = status_report(config, db_url, open_archive(db_url), now)
    if args.json:
        out.write(export.dumps(report, indent=2) + "\n")
    else:
        out.write(export.printable(status_text(report, now)))
    return 0


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    return run_demo(
        port=args.port,
        every=args.every,
        db_url=args.db,
        publish_every=args.publish_every,
        log_level=args.log_level,
        out=out,
    )


# -- the command line ---------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add ``run``, ``status`` and ``demo`` to the command line's subparsers."""
    run = sub.add_parser(
        "run",
        help="run the monitoring daemon in the foreground: crawl every source on its schedule",
        description="Crawl every enabled source on its schedule until stopped (Ctrl-C or"
        " SIGTERM: running crawls get a grace period; SIGHUP: reload the configuration).",
    )
    add_db(run)
    add_log_level(run, "INFO")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser(
        "status",
        help="per source: last run, next run, last error; articles stored",
        description="What the daemon did and will do; works while it runs.",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_db(status)
    status.set_defaults(func=cmd_status)
    _add_demo(sub)


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="watch the daemon work, offline: a bundled copy of the sites on 127.0.0.1",
        description="Serve the bundled copy of both sites on 127.0.0.1 and run the daemon"
        " against it on a short interval, while the site publishes a new article every few"
        " runs and edits, retitles, deletes and restores others, as the real one does."
        " Writes to a separate demo database, never to your archive.",
    )
    demo.add_argument(
        "--port",
        type=whole_number(0, 65535),
        default=0,
        metavar="N",
        help="port of the demo site (default: any)",
    )
    demo.add_argument(
        "--every", default="5s", metavar="DURATION", help="crawl interval (default: 5s)"
    )
    demo.add_argument(
        "--publish-every",
        type=positive_int,
        default=2,
        metavar="N",
        help="publish a new article after every N kcna runs (default: 2)",
    )
    demo.add_argument(
        "--db",
        metavar="URL",
        help="demo database URL (default: demo.db in the user's data folder)",
    )
    add_log_level(demo, "INFO")
    demo.set_defaults(func=cmd_demo)
