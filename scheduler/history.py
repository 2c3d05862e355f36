"""``kcna-monitor history`` and ``kcna-monitor recheck``; ``export --all-versions``.

``history ID`` lists an article's versions with the times they were first seen, what
happened to it (new, edited, gone, back) and a unified diff of title and text between
consecutive versions. ``recheck`` fetches stored articles again now, whatever their age, and
records edits and deletions as a revisit does. :func:`register` adds both commands (and the
``--all-versions`` option of ``export``, when that command is there) to the command line.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, TextIO

from scheduler.cli.options import add_db, add_fetch_options, add_log_level, iso_date
from scheduler.crawl.options import SPIDERS, CrawlOptions, OptionError, parse_setting
from scheduler.crawl.run import run_crawl
from scheduler.export import dumps, printable
from storage.db import make_engine, migrate
from storage.records import ArticleView, EventView, VersionView
from storage.repository import Repository

PROG = "kcna-monitor"

Command = Callable[[argparse.Namespace, TextIO], int]


class HistoryError(Exception):
    """A failure of these commands, reported as one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _one_line(command: Command) -> Command:
    """Report a :class:`HistoryError` as one line on stderr and exit with its code."""

    def run(args: argparse.Namespace, out: TextIO) -> int:
        try:
            return command(args, out)
        except HistoryError as exc:
            print(printable(f"{PROG}: error: {exc}"), file=sys.stderr)
            return exc.code

    run.__name__ = command.__name__
    run.__doc__ = command.__doc__
    return run


def _open(db_url: str | None) -> Repository:
    from crawler.settings import default_database_url

    engine = make_engine(db_url or default_database_url())
    migrate(engine)
    return Repository(engine)


def _db_url(db_url: str | None) -> str:
    from crawler.settings import default_database_url

    return db_url or default_database_url()


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _article(repo: Repository, wanted: str) -> ArticleView:
    article = repo.get_article(wanted)  # AmbiguousId is a StorageError: one line too
    if article is None:
        raise HistoryError(f"no article with id {wanted!r}")
    return article


# -- history ------------------------------------------------------------------------------


def version_diff(older: VersionView, newer: VersionView) -> list[str]:
    """Unified diff lines of title, then text, from ``older`` to ``newer`` (empty parts are
    left out: a version may change only its title or only its text)."""
    lines: list[str] = []
    for part, before, after in (
        ("title", older.title, newer.title),
        ("text", older.text, newer.text),
    ):
        lines += difflib.unified_diff(
            before.split("\n"),
            after.split("\n"),
            fromfile=f"version {older.number} {part} ({_when(older.first_seen)})",
            tofile=f"version {newer.number} {part} ({_when(newer.first_seen)})",
            lineterm="",
        )
    return lines


def _event_line(event: EventView) -> str:
    what = event.kind
    if event.version is not None:
        what += f" (version {event.version})"
    if event.detail:
        what += f": {event.detail}"
    return f"  {_when(event.at)}  {what}"


def describe_history(article: ArticleView, events: Iterable[EventView]) -> str:
    """The readable history of an article: versions, events, diffs of consecutive versions."""
    published = article.published.isoformat() if article.published else "?"
    lines = [
        f"{article.id}  {article.title}",
        f"source {article.source}, published {published}, {article.versions} version"
        + ("s" if article.versions != 1 else "")
        + (f", gone since {_when(article.gone_at)}" if article.gone_at else ""),
        "",
        "versions:",
    ]
    lines += [
        f"  {v.number}  first seen {_when(v.first_seen)}  {v.content_hash[:12]}  {v.title}"
        for v in article.history
    ]
    events = list(events)
    if events:
        lines += ["", "events:"]
        lines += [_event_line(e) for e in events]
    for older, newer in pairwise(article.history):
        lines += ["", *version_diff(older, newer)]
    return "\n".join(lines) + "\n"


def history_json(article: ArticleView, events: Iterable[EventView]) -> dict[str, Any]:
    history = article.history
    return {
        "id": article.id,
        "title": article.title,
        "gone": article.to_export()["gone"],
        "versions": article.to_export(all_versions=True)["history"],
        "events": [
            {
                "id": e.id,
                "kind": e.kind,
                "version": e.version,
                "at": e.at.astimezone(UTC).isoformat(),
                "detail": e.detail,
            }
            for e in events
        ],
        "diffs": [
            {"from": a.number, "to": b.number, "diff": "\n".join(version_diff(a, b))}
            for a, b in pairwise(history)
        ],
    }


@_one_line
def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    repo = _open(args.db)
    article = _article(repo, args.id)
    events = repo.events_of(article.id)
    if args.json:
        out.write(dumps(history_json(article, events), indent=2) + "\n")
    else:
        out.write(printable(describe_history(article, events)))
    return 0


# -- recheck ------------------------------------------------------------------------------


def site_prefixes(source: str) -> tuple[str, ...]:
    """The URL prefixes of a source's own pages (as the storing pipeline computes them)."""
    hosts = sorted(SPIDERS[source].public_hosts)
    return tuple(f"{s}://{h}/" for h in hosts for s in ("http", "https"))


def recheck_settings(since: date | None, until: date | None, ids: Iterable[str]) -> dict[str, str]:
    """The Scrapy settings that make a crawl a recheck of these articles."""
    return {
        "KCNA_MONITOR_RECHECK": "true",
        "KCNA_MONITOR_RECHECK_SINCE": since.isoformat() if since else "",
        "KCNA_MONITOR_RECHECK_UNTIL": until.isoformat() if until else "",
        "KCNA_MONITOR_RECHECK_IDS": ",".join(ids),
    }


@_one_line
def cmd_recheck(args: argparse.Namespace, out: TextIO) -> int:
    unknown = [name for name in args.sources if name not in SPIDERS]
    if unknown:
        raise OptionError(f"unknown source {unknown[0]!r} (known: {', '.join(sorted(SPIDERS))})")
    if args.since and args.until and args.since > args.until:
        raise OptionError(f"--since {args.since} is after --until {args.until}")
    extra = dict(parse_setting(item) for item in args.set)
    db_url = _db_url(args.db)
    repo = _open(db_url)
    ids = [_article(repo, wanted).id for wanted in args.id]
    sources = list(dict.fromkeys(args.sources)) or list(SPIDERS)
    counts = {
        name: len(
            repo.urls_for_recheck(site_prefixes(name), since=args.since, until=args.until, ids=ids)
        )
        for name in sources
    }
    chosen = [name for name in sources if counts[name]]
    if not chosen:
        print("no stored articles to recheck", file=out)
        return 0
    before = repo.latest_event_id()
    summaries = run_crawl(
        CrawlOptions(
            sources=chosen,
            base_url=args.base_url,
            db_url=db_url,
            settings={**recheck_settings(args.since, args.until, ids), **extra},
            log_level=args.log_level,
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
        raise HistoryError("interrupted: what was checked until then is stored", code=130)
    if sum(s.pages for s in summaries) == 0:
        raise HistoryError("nothing could be fetched (see the log above for why)")
    return 0


def _events_since(repo: Repository, event_id: int) -> list[EventView]:
    events: list[EventView] = []
    while True:
        page = repo.events_after(event_id)
        events += page
        if len(page) < 500:
            return events
        event_id = page[-1].id


# -- export --all-versions ----------------------------------------------------------------


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--all-versions`` to the ``export`` command: every stored version of each
    article goes into its record (``history``, JSON Lines only)."""
    parser.add_argument(
        "--all-versions",
        action="store_true",
        help="put every stored version of each article in its record (JSON Lines only)",
    )
    plain: Command | None = parser.get_default("func")

    def func(args: argparse.Namespace, out: TextIO) -> int:
        if getattr(args, "all_versions", False) or plain is None:
            return cmd_export_all_versions(args, out)
        return plain(args, out)

    parser.set_defaults(func=func)


def cmd_export_all_versions(args: argparse.Namespace, out: TextIO) -> int:
    if getattr(args, "format", "jsonl") != "jsonl":
        raise OptionError("--all-versions needs --format jsonl (a CSV row holds one version)")
    repo = _open(args.db)
    articles = repo.iter_articles(
        since=args.since, until=args.until, source=args.source, with_history=True
    )
    output = getattr(args, "output", None)
    if output and output != "-":
        from scheduler.cli.main import output_file

        path = Path(output)
        with output_file(path) as handle:
            count = _write_all_versions(articles, handle)
        print(f"exported {count} articles to {path}", file=sys.stderr)
    else:
        _write_all_versions(articles, out)
    return 0


def _write_all_versions(articles: Iterable[ArticleView], handle: TextIO) -> int:
    count = 0
    for article in articles:
        record = article.to_export(all_versions=True)
        handle.write(dumps(record) + "\n")
        count += 1
    return count


# -- the command line ---------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``history`` and ``recheck`` to the command line (``subparsers`` as returned by
    ``add_subparsers``), and ``--all-versions`` to its ``export`` command if it has one."""

    history = subparsers.add_parser(
        "history",
        help="an article's versions, events and the changes between versions",
        description="List an article's versions with the times they were first seen, what"
        " happened to it (new, edited, gone, back), and a unified diff of title and text"
        " between consecutive versions.",
    )
    history.add_argument("id", metavar="ID", help="article id (a unique prefix is enough)")
    history.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_db(history)
    history.set_defaults(func=cmd_history)

    recheck = subparsers.add_parser(
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
        help=f"sources whose articles to recheck: {', '.join(SPIDERS)} (default: all)",
    )
    recheck.add_argument("--since", type=iso_date, metavar="DATE", help="published on or after")
    recheck.add_argument("--until", type=iso_date, metavar="DATE", help="published on or before")
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

    export = getattr(subparsers, "choices", {}).get("export")
    if export is not None and "all_versions" not in {a.dest for a in export._actions}:
        add_export_options(export)
