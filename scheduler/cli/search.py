"""Commands of full-text search: ``search`` and ``reindex``."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, time
from typing import Any, TextIO

from scheduler import export
from scheduler.cli.common import CommandError, is_terminal, open_archive
from scheduler.cli.options import add_db, non_negative_int, positive_int, user_date
from scheduler.config import resolve_db
from storage.fulltext import HIT_END, HIT_START, SEARCH_SORTS, SearchFilters, SearchHit
from storage.search import Query, QueryError, parse

#: How a terminal shows a hit: bold.
BOLD, RESET = "\x1b[1m", "\x1b[0m"
_SPACES = re.compile(r"\s+")


def cmd_search(args: argparse.Namespace, out: TextIO) -> int:
    query = _query(" ".join(args.query))
    repo = open_archive(resolve_db(args.db, args.config))
    page = repo.search.find(
        query,
        filters=_filters(args),
        sort=args.sort,
        limit=args.limit,
        offset=args.offset,
        in_versions=args.in_versions,
    )
    if args.json:
        document = {
            "query": " ".join(args.query),
            "total": page.total,
            "total_exact": page.total_exact,
            "ranked_among": page.ranked_among,
            "offset": args.offset,
            "results": [_hit_json(hit) for hit in page.hits],
        }
        out.write(export.dumps(document, indent=2) + "\n")
        return 0
    bold = is_terminal(out)
    for hit in page.hits:
        out.write(_hit_text(hit, bold=bold))
    shown = f"{args.offset + 1}-{args.offset + len(page.hits)} of " if page.hits else ""
    more = "" if page.total_exact else "more than "
    print(f"{shown}{more}{page.total:,} matching articles", file=sys.stderr)
    if page.ranked_among:
        print(
            f"in order of relevance among the {page.ranked_among:,} most recently archived;"
            " --sort published lists every match",
            file=sys.stderr,
        )
    return 0


def _query(text: str) -> Query:
    try:
        return parse(text)
    except QueryError as error:
        raise CommandError(f"bad search query: {error}", code=2) from None


def _filters(args: argparse.Namespace) -> SearchFilters:
    first_seen = args.first_seen_since
    return SearchFilters(
        source=args.source,
        category=args.category,
        since=args.since,
        until=args.until,
        first_seen_since=datetime.combine(first_seen, time(), UTC) if first_seen else None,
        edited=args.edited,
        gone=args.gone,
    )


def _marked(snippet: str, *, bold: bool) -> str:
    """A snippet fit for a terminal, its hits bold (``bold``) or unmarked."""
    parts = []
    for n, part in enumerate(snippet.replace(HIT_END, HIT_START).split(HIT_START)):
        text = export.printable(_SPACES.sub(" ", part))
        parts.append(f"{BOLD}{text}{RESET}" if bold and n % 2 else text)
    return "".join(parts)


def _hit_text(hit: SearchHit, *, bold: bool) -> str:
    published = hit.published.isoformat() if hit.published else "????-??-??"
    marks = (f" [v{hit.version}]" if hit.version else "") + (" [gone]" if hit.gone_at else "")
    line = export.printable(f"{hit.id}  {published}  {hit.source:<14}  {hit.title}{marks}")
    return f"{line}\n    {_marked(hit.snippet, bold=bold)}\n"


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "url": hit.url,
        "source": hit.source,
        "title": hit.title,
        "published": hit.published.isoformat() if hit.published else None,
        "first_seen": hit.first_seen.isoformat(),
        "gone_at": hit.gone_at.isoformat() if hit.gone_at else None,
        "versions": hit.version_count,
        "matched_version": hit.version,
        "snippet": hit.plain_snippet(),
        "hits": _hit_words(hit.snippet),
    }


def _hit_words(snippet: str) -> list[str]:
    """The words marked as hits in a snippet, in order."""
    parts = snippet.replace(HIT_END, HIT_START).split(HIT_START)
    return [part for n, part in enumerate(parts) if n % 2 and part]


def cmd_reindex(args: argparse.Namespace, out: TextIO) -> int:
    repo = open_archive(resolve_db(args.db, args.config))
    articles, versions = repo.search.reindex()
    print(f"rebuilt the search index: {articles} articles, {versions} versions", file=out)
    return 0


# -- the command line ---------------------------------------------------------------------

QUERY_HELP = (
    'words (all must appear), "an exact phrase", a OR b, -excluded, prefix*;'
    " quote the query for the shell"
)


def register(sub: Any) -> None:
    """Add ``search`` and ``reindex`` to the command line's subparsers."""
    find = sub.add_parser(
        "search",
        help="full-text search of the archive",
        description="Find stored articles by the words of their title and text. " + QUERY_HELP,
    )
    find.add_argument("query", nargs="+", metavar="QUERY", help=QUERY_HELP)
    find.add_argument("--source", metavar="NAME", help='publisher feed, e.g. "KCNA.kp (En)"')
    find.add_argument("--category", metavar="NAME", help="only articles in this category")
    find.add_argument("--since", type=user_date, metavar="DATE", help="published on or after")
    find.add_argument("--until", type=user_date, metavar="DATE", help="published on or before")
    find.add_argument(
        "--first-seen-since", type=user_date, metavar="DATE", help="first stored on or after"
    )
    find.add_argument("--edited", action="store_true", help="only articles with several versions")
    find.add_argument("--gone", action="store_true", help="only articles marked gone")
    find.add_argument(
        "--in-versions",
        action="store_true",
        help="search every stored version, not only the current one (find deleted sentences)",
    )
    find.add_argument(
        "--sort",
        choices=SEARCH_SORTS,
        default="relevance",
        help="relevance (default), published (newest first) or first-seen (latest arrivals)",
    )
    find.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="how many (default: 20)"
    )
    find.add_argument(
        "--offset", type=non_negative_int, default=0, metavar="N", help="skip the first N"
    )
    find.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_db(find)
    find.set_defaults(func=cmd_search)

    reindex = sub.add_parser("reindex", help="rebuild the full-text search index")
    add_db(reindex)
    reindex.set_defaults(func=cmd_reindex)
