"""The ``kcna-monitor`` command line.

Each command turns a domain error into one line on stderr and an exit code:
0 it ran, 1 it could not do its job (nothing fetched, database unreachable, no such
article), 2 the command line or configuration is wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

from scheduler import export
from scheduler.jobs import SPIDERS, CrawlOptions, OptionError, parse_setting, run_crawl
from storage.db import StorageError, make_engine, migrate
from storage.repository import Repository

PROG = "kcna-monitor"


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


# -- commands -----------------------------------------------------------------------------


def cmd_crawl(args: argparse.Namespace, out: TextIO) -> int:
    options = CrawlOptions(
        sources=args.sources,
        start_urls=args.start_url,
        base_url=args.base_url,
        max_pages=args.max_pages,
        db_url=args.db or default_db(),
        settings=dict(parse_setting(item) for item in args.set),
        log_level=args.log_level,
    )
    open_repository(options.db_url)  # fail early, in one line, if the database is unusable
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
    if total_pages == 0:
        raise CommandError("nothing could be fetched (see the log above for why)")
    return 0


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    repo = open_repository(args.db)
    articles = repo.iter_articles(since=args.since, until=args.until, source=args.source)
    if args.output and args.output != "-":
        path = Path(args.output)
        with path.open("w", encoding="utf-8", newline="") as handle:
            count = export.write(articles, handle, args.format)
        print(f"exported {count} articles to {path}", file=sys.stderr)
    else:
        export.write(articles, out, args.format)
    return 0


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
        print(f"{article.id}  {published}  {article.source:<14}  {article.title}", file=out)
    return 0


# -- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Archive and monitor KCNA (kcna.kp, English) and KCNA Watch.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_db(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db",
            metavar="URL",
            help="database URL (default: $KCNA_MONITOR_DB, else a SQLite file in the user's"
            " data folder)",
        )

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
        "--base-url",
        metavar="URL",
        help="fetch from this mirror or local copy; stored URLs still name the public host",
    )
    crawl.add_argument(
        "--max-pages", type=positive_int, metavar="N", help="listing pages per start page"
    )
    crawl.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="pass a Scrapy setting through (repeatable)",
    )
    crawl.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much of the crawl to log on stderr (default: WARNING)",
    )
    with_db(crawl)
    crawl.set_defaults(func=cmd_crawl)

    exp = sub.add_parser("export", help="write stored articles as JSON Lines or CSV")
    exp.add_argument("--format", choices=export.FORMATS, default="jsonl")
    exp.add_argument("--since", type=iso_date, metavar="DATE", help="published on or after")
    exp.add_argument("--until", type=iso_date, metavar="DATE", help="published on or before")
    exp.add_argument("--source", metavar="NAME", help='publisher feed, e.g. "KCNA.kp (En)"')
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    with_db(exp)
    exp.set_defaults(func=cmd_export)

    show = sub.add_parser("show", help="one article with its URLs and versions")
    show.add_argument("id", metavar="ID", help="article id (a unique prefix is enough)")
    show.add_argument("--json", action="store_true", help="print the export record instead")
    with_db(show)
    show.set_defaults(func=cmd_show)

    lst = sub.add_parser("list", help="stored articles, newest first")
    lst.add_argument("--limit", type=positive_int, default=20, metavar="N")
    lst.add_argument("--offset", type=int, default=0, metavar="N")
    lst.add_argument("--source", metavar="NAME", help='publisher feed, e.g. "KCNA.kp (En)"')
    with_db(lst)
    lst.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    try:
        return args.func(args, stream)
    except OptionError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (CommandError, StorageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
