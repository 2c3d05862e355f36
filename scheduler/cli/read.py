"""Commands that read the archive: ``show``, ``list``, ``export`` and ``history``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from scheduler import export
from scheduler.cli.common import PROG, CommandError, find_article, open_archive, output_file
from scheduler.cli.options import add_db, non_negative_int, positive_int, user_date
from scheduler.config import resolve_db
from scheduler.history import describe_history, history_json
from storage.articles import ARTICLE_ORDERS
from storage.records import ArticleView
from storage.repository import Repository


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    repo = open_archive(resolve_db(args.db, args.config))
    article = find_article(repo, args.id)
    if args.json:
        export.write([article], out, "jsonl")
    else:
        out.write(export.describe(article))
    return 0


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    repo = open_archive(resolve_db(args.db, args.config))
    shown = 0
    newest = repo.articles.newest(
        limit=args.limit, offset=args.offset, source=args.source, sort=args.sort
    )
    for article in newest:
        published = article.published.isoformat() if article.published else "????-??-??"
        line = f"{article.id}  {published}  {article.source:<14}  {article.title}"
        print(export.printable(line), file=out)
        shown += 1
    if not shown:
        print(export.printable(_nothing_listed(repo, args)), file=sys.stderr)
    return 0


def _nothing_listed(repo: Repository, args: argparse.Namespace) -> str:
    """Why ``list`` printed no article, in one line."""
    stored = repo.articles.count()
    if not stored:
        return f"no articles stored yet — run {PROG} crawl or {PROG} demo"
    which = f' from source "{args.source}"' if args.source else ""
    past = f" past the first {args.offset}" if args.offset else ""
    return f"no stored articles{which}{past} ({stored} stored in all)"


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    if args.all_versions and args.format != "jsonl":
        raise CommandError(
            "--all-versions needs --format jsonl (a CSV row holds one version)", code=2
        )
    repo = open_archive(resolve_db(args.db, args.config))
    articles = repo.articles.iterate(
        since=args.since, until=args.until, source=args.source, with_history=args.all_versions
    )
    if args.output and args.output != "-":
        path = Path(args.output)
        with output_file(path) as handle:
            count = _write(articles, handle, args)
        print(f"exported {count} articles to {path}", file=sys.stderr)
    else:
        _write(articles, out, args)
    return 0


def _write(articles: Iterable[ArticleView], handle: TextIO, args: argparse.Namespace) -> int:
    if not args.all_versions:
        return export.write(articles, handle, args.format)
    count = 0
    for article in articles:
        handle.write(export.dumps(article.to_export(all_versions=True)) + "\n")
        count += 1
    return count


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    repo = open_archive(resolve_db(args.db, args.config))
    article = find_article(repo, args.id)
    events = repo.articles.events_of(article.id)
    if args.json:
        out.write(export.dumps(history_json(article, events), indent=2) + "\n")
    else:
        out.write(export.printable(describe_history(article, events)))
    return 0


# -- the command line ---------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add ``export``, ``show``, ``list`` and ``history`` to the command line's subparsers."""
    exp = sub.add_parser("export", help="write stored articles as JSON Lines or CSV")
    exp.add_argument(
        "--format", choices=export.FORMATS, default="jsonl", help="output format (default: jsonl)"
    )
    exp.add_argument("--since", type=user_date, metavar="DATE", help="published on or after")
    exp.add_argument("--until", type=user_date, metavar="DATE", help="published on or before")
    exp.add_argument("--source", metavar="NAME", help='publisher feed, e.g. "KCNA.kp (En)"')
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    add_db(exp)
    exp.add_argument(
        "--all-versions",
        action="store_true",
        help="put every stored version of each article in its record (JSON Lines only)",
    )
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
    lst.add_argument(
        "--sort",
        choices=ARTICLE_ORDERS,
        default="published",
        help="newest by publication date (default), or by when first stored (first-seen):"
        " the latest arrivals first",
    )
    add_db(lst)
    lst.set_defaults(func=cmd_list)

    history = sub.add_parser(
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
