"""Commands that fill the archive: ``crawl``, ``backfill`` and ``recheck``."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any, TextIO

from crawler.plan import CrawlPlan
from crawler.sources import SOURCES, known
from scheduler.cli.common import (
    PROG,
    CommandError,
    find_article,
    is_terminal,
    open_repository,
)
from scheduler.cli.options import (
    add_db,
    add_fetch_options,
    add_log_level,
    positive_int,
    user_date,
)
from scheduler.config import resolve_db
from scheduler.crawl.options import CrawlOptions, OptionError, parse_setting, plan
from scheduler.crawl.summary import SourceSummary
from scheduler.daemon.child import exit_with_parent
from storage.records import EventView
from storage.repository import Repository

#: Listing pages a backfill walks when not told how many: all of them, in practice.
BACKFILL_ALL_PAGES = 100_000


def _run_crawl(options: CrawlOptions) -> list[SourceSummary]:
    """:func:`scheduler.crawl.run.run_crawl`, imported here: Scrapy and Twisted load when a
    crawl starts, so that ``--help`` and every command that does not crawl start quickly."""
    from scheduler.crawl.run import run_crawl

    return run_crawl(options)


def cmd_crawl(args: argparse.Namespace, out: TextIO) -> int:
    settings = dict(parse_setting(item) for item in args.set)
    options = CrawlOptions(
        sources=args.sources,
        start_urls=args.start_url,
        base_url=args.base_url,
        proxy=args.proxy,
        max_pages=args.max_pages,
        db_url=resolve_db(args.db, args.config),
        settings=settings,
        log_level=args.log_level,
        run_id=args.run_id,
        progress=args.run_id is None and is_terminal(sys.stderr),
        plan=CrawlPlan("refetch") if args.refetch else CrawlPlan(),
    )
    plan(options)  # a bad option is one line before anything starts
    open_repository(options.db_url)  # fail early, in one line, if the database is unusable
    if args.exit_with_parent:
        exit_with_parent()
    return _crawl_and_report(options, out)


def cmd_backfill(args: argparse.Namespace, out: TextIO) -> int:
    settings = dict(parse_setting(item) for item in args.set)
    options = CrawlOptions(
        sources=[args.source],
        start_urls=args.start_url,
        base_url=args.base_url,
        proxy=args.proxy,
        max_pages=args.pages or BACKFILL_ALL_PAGES,
        db_url=resolve_db(args.db, args.config),
        settings=settings,
        log_level=args.log_level,
        progress=is_terminal(sys.stderr),
        # Walk the listings back past stored articles (they are not fetched again), without
        # conditional requests, recording how far it got so that a later backfill resumes.
        plan=CrawlPlan("backfill", since=args.since),
    )
    plan(options)
    repo = open_repository(options.db_url)
    if args.restart:
        repo.crawl_state.reset_backfill_progress(SOURCES[args.source].label)
    return _crawl_and_report(options, out)


def _crawl_and_report(options: CrawlOptions, out: TextIO) -> int:
    summaries = _run_crawl(options)
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
    # A source that could not be reached at all (no network, blocked): one line says why.
    unreachable = [f"{s.source}: {s.unreachable}" for s in summaries if s.unreachable]
    if total_pages == 0:
        if unreachable:
            raise CommandError("; ".join(["nothing could be fetched", *unreachable]))
        raise CommandError("nothing could be fetched (see the log above for why)")
    for line in unreachable:  # the others were fetched: the crawl did its job
        print(f"{PROG}: {line}", file=sys.stderr)
    unstored = [
        s for s in summaries if s.status == "failed" and s.error not in (None, s.unreachable)
    ]
    if unstored:
        raise CommandError("; ".join(f"{s.source}: {s.error}" for s in unstored))
    return 0


def cmd_recheck(args: argparse.Namespace, out: TextIO) -> int:
    unknown = [name for name in args.sources if name not in SOURCES]
    if unknown:
        raise OptionError(f"unknown source {unknown[0]!r} (known: {known()})")
    if args.since and args.until and args.since > args.until:
        raise OptionError(f"--since {args.since} is after --until {args.until}")
    extra = dict(parse_setting(item) for item in args.set)
    db_url = resolve_db(args.db, args.config)
    repo = open_repository(db_url)
    ids = [find_article(repo, wanted).id for wanted in args.id]
    sources = list(dict.fromkeys(args.sources)) or list(SOURCES)
    counts = {
        name: len(
            repo.crawl_state.urls_for_recheck(
                SOURCES[name].site_prefixes(), since=args.since, until=args.until, ids=ids
            )
        )
        for name in sources
    }
    chosen = [name for name in sources if counts[name]]
    if not chosen:
        print("no stored articles to recheck", file=out)
        return 0
    before = repo.articles.latest_event_id()
    summaries = _run_crawl(
        CrawlOptions(
            sources=chosen,
            base_url=args.base_url,
            proxy=args.proxy,
            db_url=db_url,
            settings=extra,
            log_level=args.log_level,
            plan=CrawlPlan("recheck", since=args.since, until=args.until, ids=tuple(ids)),
        )
    )
    for summary in summaries:
        print(f"{summary.line()}  checked {counts[summary.source]:>5}", file=out)
    events = _events_since(repo, before)
    found = Counter(e.kind for e in events)
    print(
        f"total      checked {sum(counts[n] for n in chosen)}, edited {found['edited']},"
        f" gone {found['gone']}, back {found['back']},"
        f" failed {sum(s.failures for s in summaries)}",
        file=out,
    )
    for event in events:
        if event.kind in ("edited", "gone", "back"):
            version = f" version {event.version}" if event.version is not None else ""
            print(f"  {event.kind:<6} {event.article_id}{version}", file=out)
    if any(s.status == "interrupted" for s in summaries):
        raise CommandError("interrupted: what was checked until then is stored", code=130)
    if sum(s.pages for s in summaries) == 0:
        raise CommandError("nothing could be fetched (see the log above for why)")
    return 0


def _events_since(repo: Repository, event_id: int) -> list[EventView]:
    events: list[EventView] = []
    while True:
        page = repo.articles.events_after(event_id)
        events += page
        if len(page) < 500:
            return events
        event_id = page[-1].id


# -- the command line ---------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add ``crawl``, ``backfill`` and ``recheck`` to the command line's subparsers."""
    _add_crawl(sub)
    _add_backfill(sub)
    _add_recheck(sub)


def _add_crawl(sub: Any) -> None:
    crawl = sub.add_parser("crawl", help="crawl sources once and store what is new")
    crawl.add_argument(
        "sources", nargs="*", metavar="SOURCE", help=f"sources to crawl: {', '.join(SOURCES)}"
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


def _add_backfill(sub: Any) -> None:
    backfill = sub.add_parser(
        "backfill",
        help="walk a source's listings back and store everything once; resumes",
        description="Walk the listing pages of a source back, page after page, storing every"
        " article not stored yet. Stored articles are not fetched again, and an interrupted"
        " backfill (Ctrl-C, crash, kill) resumes at the first listing page it had not finished.",
    )
    backfill.add_argument(
        "source", choices=sorted(SOURCES), metavar="SOURCE", help="kcna or kcnawatch"
    )
    reach = backfill.add_mutually_exclusive_group()
    reach.add_argument(
        "--pages", type=positive_int, metavar="N", help="listing pages per listing (default: all)"
    )
    reach.add_argument(
        "--since", type=user_date, metavar="DATE", help="stop at articles published before DATE"
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


def _add_recheck(sub: Any) -> None:
    recheck = sub.add_parser(
        "recheck",
        help="fetch stored articles again now, recording edits and deletions",
        description="Fetch stored articles again now, whatever their age (by default every"
        " stored article of the sources): a changed title or text is stored as a new version,"
        " a page that answers 404 or 410 marks its article gone, and one that answers again"
        " clears the mark.",
    )
    recheck.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help=f"sources whose articles to recheck: {', '.join(SOURCES)} (default: all)",
    )
    recheck.add_argument("--since", type=user_date, metavar="DATE", help="published on or after")
    recheck.add_argument("--until", type=user_date, metavar="DATE", help="published on or before")
    recheck.add_argument(
        "--id",
        action="append",
        default=[],
        metavar="ID",
        help="recheck this article (a unique id prefix is enough; repeatable)",
    )
    add_fetch_options(recheck)
    add_log_level(recheck)
    add_db(recheck)
    recheck.set_defaults(func=cmd_recheck)
