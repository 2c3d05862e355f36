"""What the search benchmark times at the storage level: the queries through
``repo.search.find`` and as ``LIKE`` scans, the archive page and the article page.

Every figure is a list of seconds per request; :func:`percentile` makes p50 and p95 of it.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from bench.search_archive import Pool
from storage.fulltext import SearchFilters
from storage.models import ARTICLES
from storage.repository import Repository
from storage.search import Phrase, Term, parse

#: Results a first page shows (the web app's page size).
PAGE = 20


@dataclass(frozen=True)
class Case:
    """One typical query: what it stands for, the text typed, its filters."""

    kind: str
    query: str
    filters: SearchFilters = field(default_factory=SearchFilters)


def _year(word: str, year: int) -> Case:
    filters = SearchFilters(since=date(year, 1, 1), until=date(year, 12, 31))
    return Case("common word, one year", f"{word}", filters)


def rare_words(pool: Pool, count: int) -> list[str]:
    """Words of one distinct corpus article only (the archive repeats it in some hundred):
    letters only, at least 8 of them, ``count`` spread evenly over the alphabetical order."""
    documents: Counter[str] = Counter()
    for paragraphs in pool.paragraphs:
        documents.update({w.lower() for w in re.findall(r"[A-Za-z]{8,}", " ".join(paragraphs))})
    rare = sorted(w for w, n in documents.items() if n == 1)
    return [rare[i * len(rare) // count] for i in range(count)] if len(rare) >= count else rare


def cases(pool: Pool) -> list[Case]:
    """The 20 typical queries: 5 single words, 4 pairs of words, 4 phrases, 4 rare words,
    3 common words within one year of publication."""
    words = ["missile", "Japan", "agriculture", "anniversary", "Pyongyang"]
    pairs = ["nuclear war", "United States", "economic construction", "youth league"]
    phrases = ['"Workers\' Party of Korea"', '"Korean peninsula"', '"nuclear-polluted water"']
    phrases.append('"General Secretary Kim Jong Un"')
    return [
        *(Case("one word", w) for w in words),
        *(Case("two words", p) for p in pairs),
        *(Case("phrase", p) for p in phrases),
        *(Case("rare word", w) for w in rare_words(pool, 4)),
        _year("Korea", 2020),
        _year("people", 2011),
        _year("party", 2024),
    ]


def percentile(samples: Sequence[float], share: float) -> float:
    """The sample below which ``share`` of them lie (nearest rank)."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def timed_runs(work: Callable[[], Any], repeats: int, *, warm: bool = True) -> list[float]:
    """Seconds of each of ``repeats`` runs of ``work``, after one untimed run if ``warm``."""
    if warm:
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def time_find(repo: Repository, chosen: Sequence[Case], repeats: int) -> dict[str, list[float]]:
    """Seconds of each query's first page with snippets (and the count), by query."""

    def run(case: Case) -> Callable[[], Any]:
        return lambda: repo.search.find(case.query, filters=case.filters, limit=PAGE)

    return {case.query: timed_runs(run(case), repeats) for case in chosen}


def hits(repo: Repository, chosen: Sequence[Case]) -> dict[str, int]:
    """How many articles each query matches (exactly: the sum of its counts by source; a
    page's own count stops at ``storage.ranking.RANK_LIMIT``)."""
    counted = {}
    for case in chosen:
        by_source = repo.search.facets(case.query, filters=case.filters).by_source
        counted[case.query] = sum(by_source.values())
    return counted


def _like(engine: Engine, pattern: str) -> Any:
    column_like = "ilike" if engine.dialect.name == "postgresql" else "like"
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    wanted = f"%{escaped}%"
    return or_(
        getattr(ARTICLES.c.title, column_like)(wanted, escape="\\"),
        getattr(ARTICLES.c.text, column_like)(wanted, escape="\\"),
    )


def like_statements(engine: Engine, case: Case) -> tuple[Any, Any]:
    """The baseline of one query: (count, first page) as ``LIKE '%…%'`` scans over the title
    and text, every word or phrase of the query a pattern, with the same date filters."""
    query = parse(case.query)
    patterns = [a.text for a in query.required if isinstance(a, Term | Phrase)]
    conditions = [_like(engine, p) for p in patterns]
    if case.filters.since is not None:
        conditions.append(ARTICLES.c.published >= case.filters.since)
    if case.filters.until is not None:
        conditions.append(ARTICLES.c.published <= case.filters.until)
    where = and_(*conditions)
    count = select(func.count()).select_from(ARTICLES).where(where)
    snippet = func.substr(ARTICLES.c.text, 1, 200).label("snippet")
    page = (
        select(ARTICLES.c.id, ARTICLES.c.title, ARTICLES.c.published, snippet)
        .where(where)
        .order_by(ARTICLES.c.published.desc(), ARTICLES.c.id.desc())
        .limit(PAGE)
    )
    return count, page


def time_like(engine: Engine, chosen: Sequence[Case], repeats: int) -> dict[str, list[float]]:
    """Seconds of each query's baseline (count and first page), by query."""

    def run(case: Case) -> Callable[[], Any]:
        count, page = like_statements(engine, case)

        def work() -> None:
            with engine.connect() as connection:
                connection.execute(count).scalar_one()
                connection.execute(page).all()

        return work

    return {case.query: timed_runs(run(case), repeats, warm=False) for case in chosen}


def time_archive_page(repo: Repository, pages: int, repeats: int) -> list[float]:
    """Seconds of the archive page as the web app reads it (``search.browse``, pages of 50
    with their count, each continuing from the previous page's cursor): the first ``pages``
    pages in both orders, each ``repeats`` times."""
    times: list[float] = []
    for sort in ("published", "first-seen"):
        after: str | None = None
        for _ in range(pages):

            def work(cursor: str | None = after, order: Any = sort) -> Any:
                return repo.search.browse(limit=50, sort=order, after=cursor)

            times += timed_runs(work, repeats)
            after = work().next_cursor
    return times


def time_newest_page(repo: Repository, pages: int, repeats: int) -> list[float]:
    """Seconds of ``articles.newest`` (pages of 50 by offset) and ``articles.count``: the
    first ``pages`` pages in both orders, each ``repeats`` times."""
    times: list[float] = []
    for sort in ("published", "first-seen"):
        for number in range(pages):

            def work(offset: int = number * 50, order: Any = sort) -> None:
                repo.articles.newest(limit=50, offset=offset, sort=order)
                repo.articles.count()

            times += timed_runs(work, repeats)
    return times


def time_article_page(repo: Repository, ids: Sequence[str], repeats: int) -> list[float]:
    """Seconds of the article page of each of ``ids`` (``get`` with the full history and
    ``events_of``), each ``repeats`` times."""
    times: list[float] = []
    for article_id in ids:

        def work(wanted: str = article_id) -> None:
            view = repo.articles.get(wanted)
            assert view is not None and len(view.history) == 5, wanted
            repo.articles.events_of(wanted)

        times += timed_runs(work, repeats)
    return times
