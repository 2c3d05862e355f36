"""kcna.kp, English edition, ``/q/`` layout (2021 to about July 2026).

Article pages ``/en/article/q/<hex>.kcmsf``::

    div.article-content-title > div.article-main-title   (title, maybe in <strong>)
    div.article-content-body > div.content-wrapper > p    (body; dateline first, "-0-" last)
    <span class='publish-time'>www.kcna.kp (Juche112.12.4.)</span>   (after the last <p>)

Category listings ``/en/category/articles/q/<hex>.kcmsf``: ``ul.article-link > li > a`` with a
``span.publish-time`` date inside the anchor.

The ``/q/`` token is opaque and one article has several URLs, so there is no ``source_key``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

from .dates import infer_from_dateline, parse_date, parse_stamp
from .query import css, string_value, xpath
from .records import KCNA_EN, ArticleRecord, ExtractionError, Listing, ListingEntry, PageRequest
from .text import (
    find_dateline,
    inline_text,
    join_paragraphs,
    kcna_category,
    page_title,
    paragraphs_of,
    parse_html,
)

#: Where the javascript ``page(N)`` posts to, when the page's form names no action [one].
PAGING_URL = "/en/category/articles.kcmsf"

_PAGE_CALL = re.compile(r"javascript:\s*page\(\s*'?(\d+)'?\s*\)")
_BODY = css("div.article-content-body div.content-wrapper p")
_ANY_BODY = css("div.article-content-body p")
_TITLE = css("div.article-content-title div.article-main-title")
_ANY_TITLE = css("div.article-main-title")
_PUBLISH_TIME = css(".publish-time")
_LINKS = css("ul.article-link > li a[href]")
_PAGE_LINKS = xpath("//a[contains(@href, 'page(')]")
_PAGING_FORM = xpath(f"//form[contains(@action, '{PAGING_URL.rsplit('/', 1)[-1]}')]")
_NAMED_INPUTS = xpath(".//input[@name]")


def parse_article(
    url: str, body: bytes | str | Selector, *, hint: ListingEntry | None = None, today: date
) -> ArticleRecord:
    """Read a ``/q/`` article page.

    The date comes from the page stamp ("page-stamp"), else from the listing entry that
    linked the page ("listing"), else from the dateline with ``today``'s year ("dateline").
    """
    page = parse_html(body).root
    title = _title(page)
    paragraphs = paragraphs_of(_BODY(page) or _ANY_BODY(page))
    if not title or not paragraphs:
        raise ExtractionError("kcna /q/ article: no title or no body paragraphs")
    dateline = find_dateline(paragraphs[0])

    published = parse_stamp(" ".join(map(string_value, _PUBLISH_TIME(page))))
    origin = "page-stamp"
    if published is None and hint is not None and hint.published is not None:
        published, origin = hint.published, "listing"
    if published is None and dateline:
        published, origin = infer_from_dateline(dateline, today), "dateline"
    return ArticleRecord(
        url=url,
        canonical_url=url,
        source=KCNA_EN,
        title=title,
        text=join_paragraphs(paragraphs),
        published=published,
        published_from=origin if published else None,
        dateline=dateline,
    )


def _title(page: Any) -> str:
    nodes = _TITLE(page) or _ANY_TITLE(page)
    if nodes:
        return inline_text(nodes[0])
    head = page_title(page)
    prefix = "KCNA | Article | "
    return head[len(prefix) :].strip() if head.startswith(prefix) else ""


def parse_listing(url: str, body: bytes | str | Selector) -> Listing:
    """Read a ``/q/`` category listing, with the request for the next page when one is linked.

    Paging is assumed [one source] to be links ``javascript:page(N)`` and a form posting to
    ``/en/category/articles.kcmsf`` with hidden fields (a session token among them). The next
    page is requested by posting that form's fields with its page field (the first field whose
    name contains "page", else a new ``page`` field) set to N. The current page is the paging
    link marked ``active``/``current``/``on``, else 1. The number of pages is not known (the
    links show a window of pages), so ``page_count`` stays None.
    """
    page = parse_html(body).root
    entries: dict[str, ListingEntry] = {}
    for link in _LINKS(page):
        href = urljoin(url, link.get("href").strip())
        if href in entries or href.startswith("javascript:"):
            continue
        spans = _PUBLISH_TIME(link)
        stamp = " ".join(map(string_value, spans))
        for span in spans:
            span.getparent().remove(span)
        title = inline_text(link)
        entries[href] = ListingEntry(
            url=href, title=title, published=parse_date(stamp, dayfirst=False)
        )
    current = _current_page(page)
    return Listing(
        url=url,
        entries=tuple(e for e in entries.values() if e.title),
        next_pages=_next_page(page, url, current),
        category=kcna_category(page),
        current_page=current,
    )


def _page_numbers(page: Any) -> dict[int, Any]:
    links = {}
    for link in _PAGE_LINKS(page):
        match = _PAGE_CALL.search(link.get("href", ""))
        if match:
            links.setdefault(int(match.group(1)), link)
    return links


def _current_page(page: Any) -> int | None:
    links = _page_numbers(page)
    if not links:
        return None
    for number, link in links.items():
        classes = set(link.get("class", "").split())
        parent = link.getparent()
        if parent is not None:
            classes |= set((parent.get("class") or "").split())
        if classes & {"active", "current", "on", "selected"}:
            return number
    return 1


def _next_page(page: Any, url: str, current: int | None) -> tuple[PageRequest, ...]:
    if current is None or current + 1 not in _page_numbers(page):
        return ()
    target = current + 1
    form = _PAGING_FORM(page)
    fields: list[tuple[str, str]] = []
    action = PAGING_URL
    if form:
        action = form[0].get("action") or PAGING_URL
        for field in _NAMED_INPUTS(form[0]):
            fields.append((field.get("name"), field.get("value", "")))
    names = [name for name, _ in fields if "page" in name.lower()]
    page_field = names[0] if names else "page"
    fields = [(n, str(target) if n == page_field else v) for n, v in fields]
    if not names:
        fields.append((page_field, str(target)))
    request = PageRequest(
        url=urljoin(url, action), method="POST", formdata=tuple(fields), page=target
    )
    return (request,)
