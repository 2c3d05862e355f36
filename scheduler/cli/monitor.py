"""The commands of watch rules and feeds: ``watch test NAME`` and
``feed [-o FILE] [--rule NAME]``.

:func:`register` adds them to the ``kcna-monitor`` command line; each command follows the
``cmd_*(args, out) -> int`` pattern of :mod:`scheduler.cli.main` (a configuration mistake is
exit status 2, a failure 1, both one line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from scheduler.cli.common import open_archive, write_atomically
from scheduler.cli.options import add_db, positive_int
from scheduler.config import MonitoringConfig, load
from scheduler.export import printable, xml_text
from scheduler.monitor.feed import build_feed
from scheduler.monitor.outbox import utc_now
from scheduler.monitor.watch import find_rule, stored_matches


def _open(args: argparse.Namespace) -> tuple[MonitoringConfig, Any]:
    """The monitoring configuration and the archive; the whole configuration file is checked
    first, as the daemon checks it, so that a mistake anywhere in it is one line."""
    config = load(args.config)
    return config.monitoring, open_archive(config.resolve_db(args.db))


def cmd_watch_test(args: argparse.Namespace, out: TextIO) -> int:
    monitoring, repo = _open(args)
    rule = find_rule(monitoring.watch, args.name)
    shown = total = 0
    for article, snippet in stored_matches(repo.articles.iterate(), rule):
        total += 1
        if args.limit is not None and shown >= args.limit:
            continue
        shown += 1
        published = article.published.isoformat() if article.published else "????-??-??"
        gone = "  (gone)" if getattr(article, "gone_at", None) else ""
        title = " ".join(article.title.split())
        print(printable(f"{article.id}  {published}  {title}{gone}"), file=out)
        print(printable(f"    {snippet}"), file=out)
    more = f", {total - shown} not shown (--limit)" if shown < total else ""
    print(f'{total} stored articles match watch rule "{rule.name}"{more}', file=sys.stderr)
    return 0


def cmd_feed(args: argparse.Namespace, out: TextIO) -> int:
    monitoring, repo = _open(args)
    rule = find_rule(monitoring.watch, args.rule) if args.rule is not None else None
    feed = build_feed(
        repo,
        now=utc_now(),
        rule=rule,
        limit=args.limit,
        self_url=args.self_url,
    )
    body = xml_text(feed.decode("utf-8")).encode("utf-8")
    if args.output and args.output != "-":
        path = Path(args.output)
        write_atomically(path, body)
        print(f"wrote the feed to {path}", file=sys.stderr)
    else:
        out.write(body.decode("utf-8"))
    return 0


def register(subparsers: Any) -> None:
    """Add ``watch`` and ``feed`` to the command line's subparsers."""
    watch = subparsers.add_parser(
        "watch",
        help="watch rules: see which stored articles a rule matches",
        description="Watch rules are [[watch]] tables of the configuration file.",
    )
    watch_sub = watch.add_subparsers(dest="watch_command", required=True, metavar="COMMAND")
    test = watch_sub.add_parser(
        "test",
        help="list the stored articles a rule would match now",
        description="List the stored articles whose current title or text the rule matches"
        " (its sources filter applies), with the matching passage.",
    )
    test.add_argument("name", metavar="NAME", help="the rule's name")
    test.add_argument("--limit", type=positive_int, metavar="N", help="show at most N articles")
    add_db(test)
    test.set_defaults(func=cmd_watch_test)

    feed = subparsers.add_parser(
        "feed",
        help="write the Atom feed of new and changed articles (overall or of one watch rule)",
        description="Write an Atom 1.0 feed of the latest new and edited articles, or of the"
        " stored articles a watch rule matches with the edits and disappearances it matched,"
        " for any feed reader.",
    )
    feed.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    feed.add_argument("--rule", metavar="NAME", help="the feed of this watch rule")
    feed.add_argument(
        "--limit", type=positive_int, default=50, metavar="N", help="entries (default: 50)"
    )
    feed.add_argument(
        "--self-url", metavar="URL", help="the URL the feed will be published at (rel=self)"
    )
    add_db(feed)
    feed.set_defaults(func=cmd_feed)
