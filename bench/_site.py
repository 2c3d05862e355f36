"""A large fixture site of all three layouts, rendered from the corpus, for crawl benchmarks.

Every corpus article is rendered in each layout: kcna.kp ``/q/`` (every URL of the article, as
on the real site), kcna.kp ``/detail/`` (one URL) and a KCNA Watch copy that links its kcna.kp
original. When the corpus alone gives fewer article pages than asked for, further *editions*
of the corpus are added: the same records with the title marked and new URLs, so they are new
articles. Listings are paged as on the real sites:

- ``/q/``: one listing per category (a record's first topic), further pages by form POST to
  ``/en/category/articles.kcmsf`` with a per-category token;
- ``/detail/``: one list, further pages by form POST with a session cookie and a ``_csrf`` token;
- KCNA Watch: ``/newstream/`` then ``/newstream/page/N/`` links.
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench._common import ROOT, Measured, run_measured
from replica.corpus import group_articles
from replica.render import kcna, kcnawatch, markup
from replica.server import FixtureSite, Page
from replica.site import CSRF, KCNA, KCNAWATCH

Q_PAGING_PATH = "/en/category/articles.kcmsf"
DETAIL_CATEGORY = "Latest News"


@dataclass
class BenchSite:
    site: FixtureSite
    #: Paths of the first page of every listing chain (the crawl's start pages).
    start_paths: list[str]
    #: Paths of every article page.
    article_paths: set[str]
    #: Number of listing pages (GET and POST) a full crawl fetches.
    listing_pages: int
    #: Length of the longest listing chain: the crawl's ``--max-pages``.
    max_pages: int
    #: Distinct articles on the site (what a first crawl stores as new).
    distinct_articles: int
    counts: dict[str, int] = field(default_factory=dict)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _stamp(published: str) -> str:
    return "gregorian" if published >= "2024-10-25" else "juche"


def _edition(group: list[dict[str, Any]], number: int) -> list[dict[str, Any]]:
    """The records of one article in edition ``number`` (0: as in the corpus)."""
    if number == 0:
        return group
    out = []
    for rec in group:
        hexpath = markup.token("edition", number, rec["url"], length=96)
        out.append(
            {
                **rec,
                "title": f"{rec['title']} (edition {number + 1})",
                "url": f"{KCNA}/en/article/q/{hexpath}.kcmsf",
            }
        )
    return out


@dataclass
class _Articles:
    """The article pages put on a site so far, and the listing entries that link them."""

    paths: set[str] = field(default_factory=set)
    q: dict[str, list[tuple[str, str, str]]] = field(default_factory=lambda: defaultdict(list))
    detail: list[tuple[str, str, str]] = field(default_factory=list)
    watch: list[tuple[str, str, str]] = field(default_factory=list)
    distinct: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"q": 0, "detail": 0, "kcnawatch": 0})


def _put_article(site: FixtureSite, recs: list[dict[str, Any]], found: _Articles) -> None:
    """One article in every layout: each of its ``/q/`` URLs, one ``/detail/`` page, one KCNA
    Watch copy linking its original."""
    first = recs[0]
    found.distinct += 1
    for rec in recs:
        path = _path(rec["url"])
        site.put(path, kcna.render_q_article(rec, stamp=_stamp(rec["published"])))  # type: ignore[arg-type]
        found.paths.add(path)
        found.q[rec["topics"][0] if rec["topics"] else "Home News"].append(
            (path, rec["title"], rec["published"])
        )
        found.counts["q"] += 1
    detail = kcna.detail_path(first)
    site.put(detail, kcna.render_detail_article(first))
    found.paths.add(detail)
    found.detail.append((detail, first["title"], first["published"]))
    found.counts["detail"] += 1
    watch = kcnawatch.kcnawatch_path(first)
    site.put(
        watch,
        kcnawatch.render_kcnawatch_article(
            first, page_url=KCNAWATCH + watch, original_url=first["url"], stamp=None
        ),
    )
    found.paths.add(watch)
    found.watch.append((watch, first["title"], first["published"]))
    found.counts["kcnawatch"] += 1


def _put_articles(
    site: FixtureSite, groups: list[list[dict[str, Any]]], min_pages: int
) -> _Articles:
    """The corpus once, then editions of it until there are ``min_pages`` article pages."""
    found = _Articles()
    edition = 0
    while True:
        for group in groups:
            _put_article(site, _edition(group, edition), found)
            if len(found.paths) >= min_pages and edition > 0:
                break
        if len(found.paths) >= min_pages:
            return found
        edition += 1


def _put_q_listings(
    site: FixtureSite, q_entries: dict[str, list[tuple[str, str, str]]], per_page: int
) -> tuple[list[str], list[int]]:
    """``/q/`` category listings, paged by POST with a per-category token: their first pages'
    paths and their lengths."""
    start_paths: list[str] = []
    chains: list[int] = []
    q_pages: dict[str, list[str]] = {}
    for category, entries in sorted(q_entries.items()):
        chunks = _chunks(entries, per_page)
        rendered = [
            kcna.render_q_listing(chunk, category=category, page=n, page_links=len(chunks))
            for n, chunk in enumerate(chunks, 1)
        ]
        q_pages[markup.token("q", category)] = rendered
        first_path = kcna.q_category_path(category)
        site.put(first_path, rendered[0])
        start_paths.append(first_path)
        chains.append(len(chunks))

    def post_q(form: Mapping[str, str], _cookie: bool) -> Page:
        pages = q_pages.get(form.get("token", ""))
        if pages is None:
            return Page(b"<html><body><h1>404 Not Found</h1></body></html>", status=404)
        number = min(max(int(form.get("page", "1") or 1), 1), len(pages))
        return Page(pages[number - 1].encode("utf-8"))

    site.posts[Q_PAGING_PATH] = post_q
    return start_paths, chains


def _put_detail_listing(
    site: FixtureSite, detail_entries: list[tuple[str, str, str]], per_page: int
) -> tuple[str, int]:
    """The ``/detail/`` list, paged by POST with a session cookie and a token: its path and
    length."""
    list_path = kcna.list_path(DETAIL_CATEGORY)
    detail_chunks = _chunks(detail_entries, per_page)
    detail_pages = [
        kcna.render_detail_listing(
            chunk,
            list_url_path=list_path,
            page=n,
            page_count=len(detail_chunks),
            csrf=CSRF,
            per_page=per_page,
            total=len(detail_entries),
            category=DETAIL_CATEGORY,
        ).encode("utf-8")
        for n, chunk in enumerate(detail_chunks, 1)
    ]
    site.pages[list_path] = Page(detail_pages[0])

    def post_detail(form: Mapping[str, str], cookie: bool) -> Page:
        if not cookie or form.get("_csrf") != CSRF:
            return Page(kcna.render_empty_main_page(f"KCNA | {DETAIL_CATEGORY}").encode())
        number = min(max(int(form.get("page_num", "1") or 1), 1), len(detail_pages))
        return Page(detail_pages[number - 1])

    site.posts[list_path] = post_detail
    return list_path, len(detail_chunks)


def _put_watch_listing(
    site: FixtureSite, watch_entries: list[tuple[str, str, str]], per_page: int
) -> int:
    """The KCNA Watch newstream, paged by links: its length."""
    watch_chunks = _chunks(watch_entries, per_page)
    for n, chunk in enumerate(watch_chunks, 1):
        path = "/newstream/" if n == 1 else f"/newstream/page/{n}/"
        following = f"/newstream/page/{n + 1}/" if n < len(watch_chunks) else None
        site.put(path, kcnawatch.render_kcnawatch_listing(chunk, next_page_path=following))
    return len(watch_chunks)


def build(records: list[dict[str, Any]], *, min_pages: int, per_page: int = 50) -> BenchSite:
    """A site of at least ``min_pages`` article pages (the whole corpus at least once)."""
    site = FixtureSite()
    found = _put_articles(site, group_articles(records), min_pages)
    start_paths, chains = _put_q_listings(site, found.q, per_page)
    list_path, detail_chain = _put_detail_listing(site, found.detail, per_page)
    start_paths.append(list_path)
    chains.append(detail_chain)
    chains.append(_put_watch_listing(site, found.watch, per_page))
    start_paths.append("/newstream/")

    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n")
    site.pages["/robots.txt"].content_type = "text/plain"
    return BenchSite(
        site=site,
        start_paths=start_paths,
        article_paths=found.paths,
        listing_pages=sum(chains),
        max_pages=max(chains),
        distinct_articles=found.distinct,
        counts=found.counts,
    )


def crawl_command(
    server_url: str,
    bench: BenchSite,
    db_url: str,
    *,
    concurrency: int = 16,
    robots: bool = True,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The ``kcna-monitor crawl`` arguments (after the program) for a full crawl of ``bench``."""
    starts = [arg for path in bench.start_paths for arg in ("--start-url", server_url + path)]
    settings = {
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "false",
        "CONCURRENT_REQUESTS": str(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
        "ROBOTSTXT_OBEY": "true" if robots else "false",
        "KCNA_MONITOR_RETRY_BACKOFF": "0",
        "RETRY_TIMES": "1",
    }
    return [
        "crawl",
        "--base-url",
        server_url,
        *starts,
        "--max-pages",
        str(bench.max_pages),
        "--db",
        db_url,
        *(arg for name, value in settings.items() for arg in ("--set", f"{name}={value}")),
        *extra,
    ]


def totals(stdout: str) -> dict[str, int]:
    """The counters of the ``total ...`` line the crawl command prints."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith("total")), "")
    return {name: int(value) for name, value in re.findall(r"(\w+) (\d+)", line)}


def crawl_env(home: Path) -> dict[str, str]:
    return {**os.environ, "XDG_DATA_HOME": str(home), "KCNA_MONITOR_DB": ""}


def run_crawl(
    server_url: str,
    bench: BenchSite,
    db_url: str,
    home: Path,
    *,
    concurrency: int,
    profile: Path | None = None,
) -> Measured:
    args = crawl_command(server_url, bench, db_url, concurrency=concurrency)
    # ``python -m scheduler.cli`` is what the ``kcna-monitor`` script runs; started in the root
    # of the repository holding this file, it runs that checkout's code.
    program = [sys.executable, "-m", "scheduler.cli"]
    if profile is not None:
        program = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "scheduler.cli"]
    return run_measured([*program, *args], env=crawl_env(home), cwd=ROOT, timeout=900)
