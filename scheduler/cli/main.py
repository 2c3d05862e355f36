"""The ``kcna-monitor`` command line.

Each command turns a domain error into one line on stderr and an exit code:
0 it ran, 1 it could not do its job (nothing fetched, database unreachable, no such
article), 2 the command line or configuration is wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from scheduler import export, history
from scheduler.cli import monitor as watch_cli
from scheduler.cli.options import (
    OneLineParser,
    add_config,
    add_db,
    add_fetch_options,
    add_log_level,
    iso_date,
    non_negative_int,
    positive_int,
    whole_number,
)
from scheduler.config import format_duration, load_config
from scheduler.crawl.options import SPIDERS, CrawlOptions, OptionError, parse_setting, plan
from scheduler.crawl.run import run_crawl
from scheduler.daemon.child import exit_with_parent
from scheduler.daemon.service import Daemon, DaemonError
from scheduler.logs import setup_logging
from scheduler.monitor.health import alarm_lines, alarms_json
from storage.db import StorageError, display_url, make_engine, migrate
from storage.locks import DatabaseLock
from storage.monitor import MonitorStore
from storage.records import ArticleView, RunView, SourceState
from storage.repository import Repository

PROG = "kcna-monitor"


#: Listing pages a backfill walks when not told how many: all of them, in practice.
BACKFILL_ALL_PAGES = 100_000


class CommandError(Exception):
    """A failure to report as one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def default_db() -> str:
    from crawler.settings import default_database_url

    return default_database_url()


def open_repository(db_url: str | None) -> Repository:
    engine = make_engine(db_url or default_db())
    migrate(engine)
    return Repository(engine)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- commands -----------------------------------------------------------------------------


def cmd_crawl(args: argparse.Namespace, out: TextIO) -> int:
    settings = dict(parse_setting(item) for item in args.set)
    if args.refetch:
        settings.setdefault("KCNA_MONITOR_INCREMENTAL", "false")
    options = CrawlOptions(
        sources=args.sources,
        start_urls=args.start_url,
        base_url=args.base_url,
        max_pages=args.max_pages,
        db_url=args.db or default_db(),
        settings=settings,
        log_level=args.log_level,
        run_id=args.run_id,
        progress=args.run_id is None and _is_terminal(sys.stderr),
    )
    plan(options)  # a bad option is one line before anything starts
    open_repository(options.db_url)  # fail early, in one line, if the database is unusable
    if args.exit_with_parent:
        exit_with_parent()
    return _crawl_and_report(options, out)


def cmd_backfill(args: argparse.Namespace, out: TextIO) -> int:
    settings = {
        # Walk the listings back past stored articles (they are not fetched again), without
        # conditional requests, recording how far it got so that a later backfill resumes.
        "KCNA_MONITOR_BACKFILL": "true",
        "KCNA_MONITOR_STOP_AT_KNOWN": "false",
        "KCNA_MONITOR_CONDITIONAL": "false",
        **dict(parse_setting(item) for item in args.set),
    }
    if args.since:
        settings["KCNA_MONITOR_SINCE"] = args.since.isoformat()
    options = CrawlOptions(
        sources=[args.source],
        start_urls=args.start_url,
        base_url=args.base_url,
        max_pages=args.pages or BACKFILL_ALL_PAGES,
        db_url=args.db or default_db(),
        settings=settings,
        log_level=args.log_level,
        progress=_is_terminal(sys.stderr),
    )
    plan(options)
    repo = open_repository(options.db_url)
    if args.restart:
        repo.reset_backfill_progress(SPIDERS[args.source].source_label)
    return _crawl_and_report(options, out)


def _crawl_and_report(options: CrawlOptions, out: TextIO) -> int:
    summaries = run_crawl(options)
    for summary in summaries:
        print(summary.line(), file=out)
    total_pages = sum(s.pages for s in summaries)
    print(
        f"total      pages {total_pages}, new {sum(s.new for s in summaries)},"
        f" changed {sum(s.changed for s in summaries)},"
        f" unchanged {sum(s.unchanged for s in summaries)},"
        f" failed {sum(s.failures for s in summaries)}",
        file=out,
    )
    if any(s.status == "interrupted" for s in summaries):
        raise CommandError("interrupted: what was fetched until then is stored", code=130)
    if total_pages == 0:
        raise CommandError("nothing could be fetched (see the log above for why)")
    unstored = [s for s in summaries if s.status == "failed" and s.error]
    if unstored:
        raise CommandError("; ".join(f"{s.source}: {s.error}" for s in unstored))
    return 0


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    if args.output and args.output != "-":
        path = Path(args.output)
        with output_file(path) as handle:
            count = export.write(_articles_to_export(args), handle, args.format)
        print(f"exported {count} articles to {path}", file=sys.stderr)
    else:
        export.write(_articles_to_export(args), out, args.format)
    return 0


def _articles_to_export(args: argparse.Namespace) -> Iterator[ArticleView]:
    repo = open_repository(args.db)
    return repo.iter_articles(since=args.since, until=args.until, source=args.source)


@contextmanager
def output_file(path: Path) -> Iterator[TextIO]:
    """:func:`scheduler.export.output_file`, a failure to write being one line (exit 1)."""
    try:
        with export.output_file(path) as handle:
            yield handle
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror or error}") from None


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    repo = open_repository(args.db)
    article = repo.get_article(args.id)
    if article is None:
        raise CommandError(f"no article with id {args.id!r}")
    if args.json:
        export.write([article], out, "jsonl")
    else:
        out.write(export.describe(article))
    return 0


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    repo = open_repository(args.db)
    for article in repo.list_articles(limit=args.limit, offset=args.offset, source=args.source):
        published = article.published.isoformat() if article.published else "????-??-??"
        line = f"{article.id}  {published}  {article.source:<14}  {article.title}"
        print(export.printable(line), file=out)
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    setup_logging(args.log_level)
    daemon = Daemon(
        config,
        db_url=config.resolve_db(args.db),
        reload=lambda: load_config(args.config),
        log_level=args.log_level,
    )
    return daemon.run()


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    db_url = config.resolve_db(args.db)
    repo = open_repository(db_url)
    now = datetime.now(UTC)
    running = DatabaseLock(db_url).is_held_elsewhere()
    states = repo.source_states()
    holder = max(
        (s for s in states.values() if s.pid is not None),
        key=lambda s: s.updated_at,
        default=None,
    )
    report: dict = {
        "database": display_url(db_url),
        "daemon": {
            "running": running,
            "pid": holder.pid if running and holder else None,
            "host": holder.host if running and holder else None,
        },
        "sources": {},
        "articles": {
            "total": repo.count_articles(),
            "last_24h": repo.count_articles(first_seen_since=now - timedelta(hours=24)),
        },
    }
    for name, source in config.sources.items():
        label = SPIDERS[name].source_label
        last = next(iter(repo.recent_runs(limit=1, source=label)), None)
        state = states.get(name)
        # While the daemon runs, what it runs by (its configuration may not be this one).
        schedule = state.schedule if running and state and state.schedule else None
        enabled = source.enabled if schedule is None else schedule != "disabled"
        report["sources"][name] = {
            "enabled": enabled,
            "schedule": schedule or source.describe_schedule(),
            "last_run": _run_json(last),
            "running_run_id": state.current_run_id if running and state else None,
            "next_run": _iso(state.next_run_at) if running and state else None,
            "last_error": _last_error(repo, label, state),
            "failures_in_row": state.failures_in_row if state else 0,
            "paused_until": _iso(state.paused_until)
            if state and state.paused_until and state.paused_until > now
            else None,
        }
    alarms = MonitorStore(repo.engine).active_alarms()
    report["alarms"] = alarms_json(alarms)
    if args.json:
        out.write(export.dumps(report, indent=2) + "\n")
    else:
        text = _status_text(report, now) + "\n".join(alarm_lines(alarms)) + "\n"
        out.write(export.printable(text))
    return 0


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _run_json(run: RunView | None) -> dict | None:
    if run is None:
        return None
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "id": run.id,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "seconds": round(seconds, 1) if seconds is not None else None,
        "status": run.status,
        "pages": run.pages,
        "new": run.new,
        "changed": run.changed,
        "unchanged": run.unchanged,
        "failed": run.failures,
        "error": run.error,
    }


def _last_error(repo: Repository, label: str, state: SourceState | None) -> dict | None:
    """The latest of: the last failed run's error, the daemon's last error for the source."""
    candidates = []
    failed = next(iter(repo.recent_runs(limit=1, source=label, status="failed")), None)
    if failed is not None:
        at = failed.finished_at or failed.started_at
        candidates.append((at, failed.error or "failed"))
    if state is not None and state.last_error and state.last_error_at is not None:
        candidates.append((state.last_error_at, state.last_error))
    if not candidates:
        return None
    at, message = max(candidates, key=lambda c: c[0])
    return {"at": _iso(at), "message": message}


def _ago(iso: str | None, now: datetime) -> str:
    if iso is None:
        return "-"
    moment = datetime.fromisoformat(iso)
    seconds = int((moment - now).total_seconds())
    shown = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if abs(seconds) < 2:
        return f"{shown} (now)"
    span = format_duration(timedelta(seconds=abs(seconds)))
    return f"{shown} ({'in ' + span if seconds > 0 else span + ' ago'})"


def _status_text(report: dict, now: datetime) -> str:
    daemon = report["daemon"]
    lines = [f"database   {report['database']}"]
    if daemon["running"]:
        who = f" (pid {daemon['pid']} on {daemon['host']})" if daemon["pid"] else ""
        lines.append(f"daemon     running{who}")
    else:
        lines.append("daemon     not running")
    for name, info in report["sources"].items():
        schedule = info["schedule"] if info["enabled"] else "disabled"
        lines.append(f"{name:<10} {schedule}")
        run = info["last_run"]
        if run is None:
            lines.append("  last run    never")
        else:
            took = f" in {run['seconds']:.1f}s" if run["seconds"] is not None else ""
            lines.append(
                f"  last run    {_ago(run['started_at'], now)}: {run['status']}{took} —"
                f" pages {run['pages']}, new {run['new']}, changed {run['changed']},"
                f" unchanged {run['unchanged']}, failed {run['failed']}"
            )
        if info["running_run_id"] is not None:
            lines.append(f"  next run    running now (run {info['running_run_id']})")
        elif info["next_run"] is not None:
            lines.append(f"  next run    {_ago(info['next_run'], now)}")
        else:
            lines.append(
                "  next run    -" + ("" if daemon["running"] else " (the daemon is not running)")
            )
        error = info["last_error"]
        lines.append(
            f"  last error  {_ago(error['at'], now)}: {error['message']}"
            if error
            else "  last error  none"
        )
        if info["paused_until"]:
            lines.append(
                f"  paused      until {_ago(info['paused_until'], now)},"
                f" after {info['failures_in_row']} failed runs in a row"
            )
    articles = report["articles"]
    lines.append(
        f"articles   {articles['total']} stored, {articles['last_24h']} new in the last 24 hours"
    )
    return "\n".join(lines) + "\n"


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from replica import run_demo

    return run_demo(
        port=args.port,
        every=args.every,
        db_url=args.db,
        publish_every=args.publish_every,
        log_level=args.log_level,
        out=out,
    )


# -- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Archive and monitor KCNA (kcna.kp, English) and KCNA Watch.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = sub.add_parser("crawl", help="crawl sources once and store what is new")
    crawl.add_argument(
        "sources", nargs="*", metavar="SOURCE", help=f"sources to crawl: {', '.join(SPIDERS)}"
    )
    crawl.add_argument(
        "--start-url",
        action="append",
        default=[],
        metavar="URL",
        help="start from this listing or article page instead of the default listings (repeatable)",
    )
    crawl.add_argument(
        "--max-pages", type=positive_int, metavar="N", help="listing pages per start page"
    )
    add_fetch_options(crawl)
    add_log_level(crawl)
    # The daemon's: fill in a run it recorded; stop when the daemon goes away.
    crawl.add_argument(
        "--refetch",
        action="store_true",
        help="fetch stored articles again too (finds edits; slower and heavier on the site)",
    )
    crawl.add_argument("--run-id", type=positive_int, help=argparse.SUPPRESS)
    crawl.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    add_db(crawl)
    crawl.set_defaults(func=cmd_crawl)

    backfill = sub.add_parser(
        "backfill",
        help="walk a source's listings back and store everything once; resumes",
        description="Walk the listing pages of a source back, page after page, storing every"
        " article not stored yet. Stored articles are not fetched again, and an interrupted"
        " backfill (Ctrl-C, crash, kill) resumes at the first listing page it had not finished.",
    )
    backfill.add_argument(
        "source", choices=sorted(SPIDERS), metavar="SOURCE", help="kcna or kcnawatch"
    )
    reach = backfill.add_mutually_exclusive_group()
    reach.add_argument(
        "--pages", type=positive_int, metavar="N", help="listing pages per listing (default: all)"
    )
    reach.add_argument(
        "--since", type=iso_date, metavar="DATE", help="stop at articles published before DATE"
    )
    backfill.add_argument(
        "--restart", action="store_true", help="forget earlier progress: start at page 1"
    )
    backfill.add_argument(
        "--start-url",
        action="append",
        default=[],
        metavar="URL",
        help="backfill this listing instead of the source's default ones (repeatable)",
    )
    add_fetch_options(backfill)
    add_log_level(backfill)
    add_db(backfill)
    backfill.set_defaults(func=cmd_backfill)

    run = sub.add_parser(
        "run",
        help="run the monitoring daemon in the foreground: crawl every source on its schedule",
        description="Crawl every enabled source on its schedule until stopped (Ctrl-C or"
        " SIGTERM: running crawls get a grace period; SIGHUP: reload the configuration).",
    )
    add_config(run)
    add_db(run)
    add_log_level(run, "INFO")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser(
        "status",
        help="per source: last run, next run, last error; articles stored",
        description="What the daemon did and will do; works while it runs.",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_config(status)
    add_db(status)
    status.set_defaults(func=cmd_status)

    demo = sub.add_parser(
        "demo",
        help="watch the daemon work, offline: a bundled copy of the sites on 127.0.0.1",
        description="Serve the bundled copy of both sites on 127.0.0.1 and run the daemon"
        " against it on a short interval, publishing a new article every few runs."
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
        help="publish a new article after every N runs (default: 2)",
    )
    demo.add_argument(
        "--db",
        metavar="URL",
        help="demo database URL (default: demo.db in the user's data folder)",
    )
    add_log_level(demo, "INFO")
    demo.set_defaults(func=cmd_demo)

    exp = sub.add_parser("export", help="write stored articles as JSON Lines or CSV")
    exp.add_argument(
        "--format", choices=export.FORMATS, default="jsonl", help="output format (default: jsonl)"
    )
    exp.add_argument("--since", type=iso_date, metavar="DATE", help="published on or after")
    exp.add_argument("--until", type=iso_date, metavar="DATE", help="published on or before")
    exp.add_argument("--source", metavar="NAME", help='publisher feed, e.g. "KCNA.kp (En)"')
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    add_db(exp)
    exp.set_defaults(func=cmd_export)

    show = sub.add_parser("show", help="one article with its URLs and versions")
    show.add_argument("id", metavar="ID", help="article id (a unique prefix is enough)")
    show.add_argument("--json", action="store_true", help="print the export record instead")
    add_db(show)
    show.set_defaults(func=cmd_show)

    lst = sub.add_parser("list", help="stored articles, newest first")
    lst.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="how many (default: 20)"
    )
    lst.add_argument(
        "--offset", type=non_negative_int, default=0, metavar="N", help="skip the first N"
    )
    lst.add_argument("--source", metavar="NAME", help='publisher feed, e.g. "KCNA.kp (En)"')
    add_db(lst)
    lst.set_defaults(func=cmd_list)
    watch_cli.register(sub)
    history.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    try:
        return args.func(args, stream)
    except OptionError as exc:
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
