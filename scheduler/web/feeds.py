"""The Atom feeds: ``/search.atom`` (the newest articles matching a search, with the
parameters of ``/search``), ``/feed.atom`` (new and edited articles) and ``/feed/RULE.atom``
(the articles a watch rule matches), built by :mod:`scheduler.monitor.feed`.

Each names the XSL stylesheet ``/static/feed.xsl``, so that a browser opening a feed shows a
readable page that says how to subscribe; feed readers ignore it. Entries about archived
articles link their page on this server, and the original. Every feed carries an ``ETag``:
a feed reader polling an unchanged feed gets a ``304``.

A browser (its ``Accept`` names HTML) gets the page of the stylesheet made here: Chromium
shows ``application/atom+xml`` as plain text and is removing XSLT, so the page does not
depend on the browser applying it. Readers get the Atom document, stylesheet instruction
included, as do browsers that do not ask for HTML.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from lxml import etree
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from scheduler.monitor.feed import ATOM_TYPE, build_feed, render, search_entries
from scheduler.web.conditional import conditional
from scheduler.web.context import WebContext, context_of
from scheduler.web.params import ArchiveQuery, archive_query
from scheduler.web.security import PAGE_POLICY

HERE = Path(__file__).parent
#: The XSL stylesheet a browser renders the feeds with.
STYLESHEET = "/static/feed.xsl"
HTML_TYPE = "text/html; charset=utf-8"
_compiled = threading.local()
#: Entries in a search feed.
SEARCH_FEED_SIZE = 50


def routes() -> list[BaseRoute]:
    return [
        Route("/search.atom", search_feed, methods=["GET"]),
        Route("/feed.atom", overall_feed, methods=["GET"]),
        Route("/feed/{rule}.atom", rule_feed, methods=["GET"]),
    ]


def answer(request: Request, body: bytes) -> Response:
    """The feed ``body`` for a feed reader; for a browser (its ``Accept`` names HTML), the
    page the feed's XSL stylesheet makes of it."""
    if "text/html" in request.headers.get("accept", ""):
        headers = {"Vary": "Accept", "Content-Security-Policy": PAGE_POLICY}  # no XSLT here
        return conditional(request, as_page(body), HTML_TYPE, headers=headers)
    return conditional(request, body, ATOM_TYPE, headers={"Vary": "Accept"})


def as_page(feed: bytes) -> bytes:
    """The HTML page of the Atom document ``feed``, made with the feed's own stylesheet
    (compiled once per thread: lxml does not share a stylesheet between threads)."""
    transform = getattr(_compiled, "xslt", None)
    if transform is None:
        transform = _compiled.xslt = etree.XSLT(etree.parse(str(HERE / "static" / "feed.xsl")))
    return bytes(transform(etree.fromstring(feed)))


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def overall_feed(request: Request) -> Response:
    context = context_of(request)
    self_url = str(request.url)
    body = context.shared.get(
        ("feed", self_url),
        lambda: build_feed(
            context.repo,
            now=context.clock(),
            self_url=self_url,
            base_url=_base(request),
            stylesheet=STYLESHEET,
        ),
    )
    return answer(request, body)


def rule_feed(request: Request) -> Response:
    context = context_of(request)
    rule = context.config.monitoring.rule(request.path_params["rule"])
    if rule is None:
        raise HTTPException(404, "no such watch rule")
    self_url = str(request.url)
    body = context.shared.get(
        ("feed", self_url),
        lambda: build_feed(
            context.repo,
            now=context.clock(),
            rule=rule,
            self_url=self_url,
            base_url=_base(request),
            stylesheet=STYLESHEET,
        ),
    )
    return answer(request, body)


def search_feed(request: Request) -> Response:
    """The newest matches of a search (or, without ``q``, of the filters alone): sorted by
    first sighting unless ``sort=published`` asks for publication dates, since a feed
    reader shows what is new at the top."""
    context = context_of(request)
    query = archive_query(request.query_params, limit=SEARCH_FEED_SIZE)
    sort = "published" if query.sort == "published" else "first-seen"
    query = replace(query, sort=sort, page=1, after=None)
    self_url = _base(request) + "/search.atom" + query.link()
    body = context.shared.get(("feed", self_url), lambda: _search_feed(context, query, request))
    return answer(request, body)


def _search_feed(context: WebContext, query: ArchiveQuery, request: Request) -> bytes:
    if query.q:
        page = context.repo.search.find(
            query.q,
            filters=query.filters,
            sort=query.sort,  # type: ignore[arg-type]
            limit=query.limit,
            in_versions=query.in_versions,
        )
    else:
        page = context.repo.search.browse(
            filters=query.filters,
            sort=query.sort,  # type: ignore[arg-type]
            limit=query.limit,
        )
    what = f"search {query.q!r}" if query.q else "the archive"
    base = _base(request)
    return render(
        search_entries(page.hits),
        feed_id=f"urn:kcna-monitor:search:{query.link()}",
        title=f"kcna-monitor: {what}",
        subtitle=f"The newest of the {'more than ' if not page.total_exact else ''}"
        f"{page.total:,} articles matching {what}",
        updated=context.clock(),
        self_url=base + "/search.atom" + query.link(),
        base_url=base,
        stylesheet=STYLESHEET,
        page_url=base + ("/search" if query.q else "/") + query.link(sort=_page_sort(query)),
    )


def _page_sort(query: ArchiveQuery) -> str:
    """The order of the page a search feed follows: the page's default."""
    return "relevance" if query.q else "published"
