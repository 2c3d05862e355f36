"""``/``: the archive, newest first, filtered and paged; ``/search``: the same with a query,
its hits marked in snippets, counted by source and by month.

Every link a page shows (next and previous page, a facet, a change of order) is built by
:meth:`ArchiveQuery.link` from the request's own query, so the same results always have the
same URL.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, replace
from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scheduler.web.context import context_of
from scheduler.web.pages.common import render
from scheduler.web.params import MAX_PAGE, ArchiveQuery, archive_query
from storage.fulltext import SEARCH_SORTS, SearchFilters, SearchPage

#: The orders a reader can pick, with their names on the page.
SORT_NAMES = {
    "relevance": "relevance",
    "published": "newest published",
    "first-seen": "newest seen",
}


#: How long the archive page reuses its counts of articles by source, in seconds.
SOURCES_FRESH_FOR = 300.0


@dataclass(frozen=True)
class Pager:
    """Where a page of results stands: its first and last position, the links around it."""

    first: int
    last: int
    page: int
    pages: int | None  # None: the count is a lower bound
    prev: str | None
    next: str | None


def pager(query: ArchiveQuery, result: SearchPage, path: str, listed: int | None = None) -> Pager:
    """The position of ``result`` (page ``query.page``) and the links to its neighbours;
    ``listed``: how many results the pages list, when known better than ``result``'s count."""
    if listed is None and result.total_exact:
        listed = result.total
    pages = max(1, -(-listed // query.limit)) if listed is not None else None
    shown = len(result.hits)
    has_next = result.next_cursor is not None and query.page < MAX_PAGE
    previous = query.page - 1 if pages is None else min(query.page - 1, pages)
    return Pager(
        first=query.offset + 1 if shown else 0,
        last=query.offset + shown,
        page=query.page,
        pages=pages,
        prev=path + query.link(page=previous) if query.page > 1 else None,
        next=path + query.link(page=query.page + 1) if has_next else None,
    )


def archive_page(request: Request) -> Response:
    """The archive without a query (a query goes to ``/search``)."""
    context = context_of(request)
    query = archive_query(request.query_params, limit=context.config.web.page_size)
    if query.q:
        return RedirectResponse("/search" + query.link(), status_code=303)
    search = context.repo.search
    result = search.browse(
        filters=query.filters,
        sort=query.sort,  # type: ignore[arg-type]
        limit=query.limit,
        offset=query.offset,
    )
    sources = archive_sources(request)
    unfiltered = query.filters == SearchFilters()
    return render(
        request,
        "archive.html",
        query=query,
        result=result,
        pager=pager(query, result, "/"),
        by_source=[
            (name, count, "/" + _narrowed(query, source=name))
            for name, count in (sources.items() if unfiltered else ())
        ],
        source_options=_options(sources, query),
        sorts=_sorts(False),
        clear="/" + query.link(filters=SearchFilters(), page=1),
    )


def archive_sources(request: Request) -> dict[str, int]:
    """How many articles each source has in the whole archive, counted again at most every
    :data:`SOURCES_FRESH_FOR` seconds: counting a large archive takes a while, and the
    counts are there to offer the sources to filter by."""
    state = request.app.state
    counted: tuple[float, dict[str, int]] | None = getattr(state, "archive_sources", None)
    now = time.monotonic()
    if counted is None or now - counted[0] > SOURCES_FRESH_FOR:
        context = context_of(request)
        facets = context.shared.get("archive_sources", context.repo.search.facets)
        counted = (now, facets.by_source)
        state.archive_sources = counted
    return counted[1]


def search_page(request: Request) -> Response:
    """Search results, or (without a query) the search form and how to write a query."""
    context = context_of(request)
    query = archive_query(request.query_params, limit=context.config.web.page_size)
    if not query.q:
        return render(request, "search_help.html", query=query)
    search = context.repo.search
    result = search.find(
        query.q,
        filters=query.filters,
        sort=query.sort,  # type: ignore[arg-type]
        limit=query.limit,
        offset=query.offset,
        in_versions=query.in_versions,
    )
    facets = search.facets(query.q, filters=query.filters, in_versions=query.in_versions)
    # The counts by source are exact: the page's count is their sum. Relevance order lists
    # the matches it ranked.
    total = sum(facets.by_source.values())
    listed = min(total, result.ranked_among) if result.ranked_among else total
    return render(
        request,
        "search.html",
        q=query.q,
        query=query,
        result=result,
        total=total,
        pager=pager(query, result, "/search", listed),
        sorts=_sorts(True),
        by_source=[
            (name, count, "/search" + _narrowed(query, source=name))
            for name, count in facets.by_source.items()
        ],
        by_month=[(month, count, _month_link(query, month)) for month, count in facets.by_month],
        source_options=_options(facets.by_source, query),
        feed="/search.atom" + query.link(page=1),
        by_date="/search" + query.link(sort="published", page=1),
        clear="/search" + query.link(filters=SearchFilters(), in_versions=False, page=1),
    )


def _options(by_source: dict[str, int], query: ArchiveQuery) -> list[str]:
    """The sources the filter form offers: those counted, and the one chosen."""
    chosen = [query.filters.source] if query.filters.source else []
    return sorted({*by_source, *chosen})


def _sorts(with_relevance: bool) -> dict[str, str]:
    return {s: SORT_NAMES[s] for s in SEARCH_SORTS if with_relevance or s != "relevance"}


def _narrowed(query: ArchiveQuery, **filters: object) -> str:
    return query.link(filters=replace(query.filters, **filters), page=1)


def _month_link(query: ArchiveQuery, month: str) -> str | None:
    """The search narrowed to the articles published in ``month`` (``YYYY-MM``)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        return None  # "undated": no date to narrow by
    last = first.replace(day=calendar.monthrange(year, number)[1])
    return "/search" + _narrowed(query, since=first, until=last)
