"""The JSON API under ``/api/``: the archive for scripts, mirroring the pages.

``/api/articles`` searches (``q``) or browses the archive with the filters of ``/search``,
a page at a time, continued by an opaque ``cursor``; ``/api/articles/ID`` is one article with
every version and its events; ``/api/sources`` is what ``status --json`` reports. Every
answer is JSON with an ``ETag`` (``If-None-Match`` gets a ``304`` while nothing changed);
errors are ``{"error": ..., "status": ...}``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from scheduler.web.conditional import conditional
from scheduler.web.context import WebContext, context_of
from scheduler.web.params import MAX_LIMIT, ArchiveQuery, archive_query
from storage.fulltext import HIT_END, HIT_START, SearchHit, SearchPage
from storage.records import ArticleView, EventView, utc_iso

JSON_TYPE = "application/json"
#: Articles per page unless ``limit`` says otherwise.
DEFAULT_LIMIT = 25

#: The endpoints ``/api/`` lists: path -> what it answers.
ENDPOINTS = {
    "/api/articles": "articles matching q (optional) and the filters source, category, since,"
    " until, first_seen_since, edited, gone, in_versions; sort; limit (at most"
    f" {MAX_LIMIT}); cursor (from next_cursor) for the next page",
    "/api/articles/{id}": "one article (id or a unique prefix of at least 4 characters) with"
    " every version and its events",
    "/api/sources": "each source's last and next run, counts, last error, pause, alarms"
    " (as status --json)",
    "/search.atom": "an Atom feed of the newest articles matching a search (the parameters"
    " of /api/articles)",
    "/healthz": "ok (200) or fail (503): database, alarms, sources with no recent success",
    "/metrics": "Prometheus metrics",
}


def routes() -> list[BaseRoute]:
    return [
        Route("/api/", index, methods=["GET"]),
        Route("/api/articles", articles, methods=["GET"]),
        Route("/api/articles/{id}", article, methods=["GET"]),
        Route("/api/sources", sources, methods=["GET"]),
    ]


def answer(request: Request, data: Any, status: int = 200) -> Response:
    """``data`` as JSON, conditional on its ``ETag``."""
    body = (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")
    return conditional(request, body, JSON_TYPE, status)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def not_found(message: str) -> dict[str, Any]:
    return {"error": message, "status": 404}


def index(request: Request) -> Response:
    base = _base(request)
    endpoints = [
        {"path": path, "url": base + path.replace("{id}", "ID"), "about": about}
        for path, about in ENDPOINTS.items()
    ]
    return answer(request, {"endpoints": endpoints})


def articles(request: Request) -> Response:
    context = context_of(request)
    query = archive_query(request.query_params, limit=DEFAULT_LIMIT, api=True)
    key = ("api", str(request.url))
    page = context.shared.get(key, lambda: read_page(context, query))
    next_url = None
    if page.next_cursor is not None:
        next_url = str(request.url.include_query_params(cursor=page.next_cursor))
    return answer(
        request,
        {
            "total": page.total,
            "total_exact": page.total_exact,
            "ranked_among": page.ranked_among,
            "articles": [hit_json(request, hit) for hit in page.hits],
            "next_cursor": page.next_cursor,
            "next": next_url,
        },
    )


def read_page(context: WebContext, query: ArchiveQuery) -> SearchPage:
    """The page of ``query``: a search when it has words, else the filtered archive."""
    offset = query.offset if query.after is None else 0
    if query.q:
        return context.repo.search.find(
            query.q,
            filters=query.filters,
            sort=query.sort,  # type: ignore[arg-type]
            limit=query.limit,
            offset=offset,
            in_versions=query.in_versions,
            after=query.after,
        )
    return context.repo.search.browse(
        filters=query.filters,
        sort=query.sort,  # type: ignore[arg-type]
        limit=query.limit,
        offset=offset,
        after=query.after,
    )


def highlights(snippet: str) -> tuple[str, list[list[int]]]:
    """A snippet with its hits marked (:data:`HIT_START` ... :data:`HIT_END`) as plain text
    and the [start, end) character offsets of the hits in it."""
    text: list[str] = []
    spans: list[list[int]] = []
    length, start = 0, None
    for char in snippet:
        if char == HIT_START:
            start = length
        elif char == HIT_END:
            if start is not None and length > start:
                spans.append([start, length])
            start = None
        else:
            text.append(char)
            length += 1
    return "".join(text), spans


def hit_json(request: Request, hit: SearchHit) -> dict[str, Any]:
    snippet, spans = highlights(hit.snippet)
    return {
        "id": hit.id,
        "url": hit.url,
        "source": hit.source,
        "title": hit.title,
        "published": hit.published.isoformat() if hit.published else None,
        "first_seen": utc_iso(hit.first_seen),
        "gone_at": utc_iso(hit.gone_at) if hit.gone_at else None,
        "versions": hit.version_count,
        "matched_version": hit.version,
        "snippet": snippet,
        "highlights": spans,
        "href": f"{_base(request)}/api/articles/{hit.id}",
        "html": f"{_base(request)}/articles/{hit.id}",
    }


def article(request: Request) -> Response:
    context = context_of(request)
    wanted = request.path_params["id"]
    found = _read_article(context, wanted)  # an ambiguous prefix: 400 (the app's handler)
    if found is None:
        return answer(request, not_found(f"no article {wanted!r}"), 404)
    view, events = found
    record = view.to_export(all_versions=True)
    record["events"] = [event_json(event) for event in events]
    record["html"] = f"{_base(request)}/articles/{view.id}"
    return answer(request, record)


def _read_article(context: WebContext, wanted: str) -> tuple[ArticleView, list[EventView]] | None:
    view = context.repo.articles.get(wanted)
    if view is None:
        return None
    return view, context.repo.articles.events_of(view.id)


def event_json(event: EventView) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": utc_iso(event.at),
        "version": event.version,
        "detail": event.detail,
    }


def sources(request: Request) -> Response:
    context = context_of(request)
    return answer(request, context.shared.get("/api/sources", context.status))
