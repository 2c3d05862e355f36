"""kcna.kp ``/detail/`` layout (from about July 2026).

List pages ``/en/article/list/<32 hex>``::

    div.article > h5.block > a[href]          (relative href, title may hold <nobr> names)
    <span><nobr>[2026.7.19.]</nobr></span>    (the date: the <nobr> whose text is a date)
    <script> total = ..; cur_page = ..; per_page = 15; page_cnt = ..; </script>
    form#article_form  (page_num, cnt_per_page, keyword, _csrf; posts back to the list URL)

Article pages ``/en/article/detail/<32 hex>``: ``main > article > div.container`` with the title
in ``h1.text-center.text-danger`` (often followed by an empty second ``<h1>``) and ``<p>``
paragraphs. There is no date on an article page. Without the session cookie the server
answers with an empty ``<main>``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from .dates import infer_from_dateline, parse_date_only
from .query import css, element, string_value, xpath
from .records import KCNA_EN, ArticleRecord, ExtractionError, Listing, ListingEntry, PageRequest
from .text import (
    find_dateline,
    inline_text,
    join_paragraphs,
    kcna_category,
    paragraphs_of,
    parse_html,
)

_HEX_ID = re.compile(r"/en/article/detail/([0-9a-fA-F]{16,})")
_SCRIPT_VAR = re.compile(r"\b(total|cur_page|per_page|page_cnt)\s*=\s*['\"]?(\d+)")
_MAIN = css("main")
_IMAGE_OR_LINK = xpath(".//img|.//a")
_CONTAINER = css("main article div.container")
_ARTICLE = css("main article")
_RED_HEADINGS = css("h1.text-danger")
_HEADINGS = css("h1")
_PARAGRAPHS = css("p")
_ITEM_HEADINGS = css("div.article h5.block")
_LINKS = css("a[href]")
_NOBR = css("nobr")
_FOLLOWING = xpath("following-sibling::*")
_NOBR_WITHIN = xpath("descendant-or-self::nobr")
_INLINE_SCRIPTS = xpath("//script[not(@src)]/text()")
_FORM = css("form#article_form")
_NAMED_INPUTS = xpath(".//input[@name]")


def source_key(url: str) -> str | None:
    """``.../en/article/detail/<hex>`` -> ``kcna-detail:<hex>`` (lower case)."""
    match = _HEX_ID.search(urlsplit(url).path)
    return f"kcna-detail:{match.group(1).lower()}" if match else None


def main_is_empty(page: Selector | Any) -> bool:
    """True when the page has a ``<main>`` with no text and no element inside but whitespace."""
    main = _MAIN(element(page))
    if not main:
        return False
    return not string_value(main[0]).strip() and not _IMAGE_OR_LINK(main[0])


def parse_article(
    url: str, body: bytes | str | Selector, *, hint: ListingEntry | None = None, today: date
) -> ArticleRecord:
    """Read a ``/detail/`` article page.

    The page has no date: it comes from the listing entry that linked the page ("listing"),
    else from the dateline's month and day with ``today``'s year ("dateline").
    """
    page = parse_html(body).root
    if main_is_empty(page):
        raise ExtractionError("kcna /detail/ article: empty <main> (answered without session?)")
    container = _CONTAINER(page) or _ARTICLE(page)
    if not container:
        raise ExtractionError("kcna /detail/ article: no main > article > div.container")
    box = container[0]
    headings = [inline_text(h) for h in _RED_HEADINGS(box)] or [
        inline_text(h) for h in _HEADINGS(box)
    ]
    title = next((h for h in headings if h), "")
    paragraphs = paragraphs_of(_PARAGRAPHS(box))
    if not title or not paragraphs:
        raise ExtractionError("kcna /detail/ article: no title or no body paragraphs")
    dateline = find_dateline(paragraphs[0])
    published, origin = None, None
    if hint is not None and hint.published is not None:
        published, origin = hint.published, "listing"
    elif dateline:
        published = infer_from_dateline(dateline, today)
        origin = "dateline" if published else None
    return ArticleRecord(
        url=url,
        canonical_url=url,
        source=KCNA_EN,
        title=title,
        text=join_paragraphs(paragraphs),
        published=published,
        published_from=origin,
        dateline=dateline,
        source_key=source_key(url),
    )


def parse_listing(url: str, body: bytes | str | Selector) -> Listing:
    """Read a ``/detail/`` list page and the form request for its next page.

    An empty ``<main>`` (no session cookie) gives an empty listing without next pages.
    """
    page = parse_html(body).root
    entries: dict[str, ListingEntry] = {}
    for heading in _ITEM_HEADINGS(page):
        links = _LINKS(heading)
        if not links:
            continue
        href = urljoin(url, links[0].get("href").strip())
        published = None
        for nobr in _date_candidates(heading):
            published = parse_date_only(string_value(nobr), dayfirst=False)
            if published is not None:
                nobr.getparent().remove(nobr)
                break
        title = inline_text(links[0])
        if title and href not in entries:
            entries[href] = ListingEntry(url=href, title=title, published=published)
    paging = {name: int(value) for name, value in _SCRIPT_VAR.findall(_scripts(page))}
    current, count = paging.get("cur_page"), paging.get("page_cnt")
    return Listing(
        url=url,
        entries=tuple(entries.values()),
        next_pages=_next_page(page, url, current, count, paging.get("per_page")),
        category=kcna_category(page),
        current_page=current,
        page_count=count,
    )


def _date_candidates(heading: Any) -> list[Any]:
    """The ``<nobr>`` elements of one item: in the heading, then until the next heading."""
    found = list(_NOBR(heading))
    for sibling in _FOLLOWING(heading):
        if sibling.tag == "h5":
            break
        found.extend(_NOBR_WITHIN(sibling))
    return found


def _scripts(page: Any) -> str:
    return "\n".join(_INLINE_SCRIPTS(page))


def _next_page(
    page: Any, url: str, current: int | None, count: int | None, per_page: int | None
) -> tuple[PageRequest, ...]:
    form = _FORM(page)
    if current is None or count is None or current + 1 > count or not form:
        return ()
    target = current + 1
    fields: list[tuple[str, str]] = []
    for field in _NAMED_INPUTS(form[0]):
        name, value = field.get("name"), field.get("value", "")
        if name == "page_num":
            value = str(target)
        elif name == "cnt_per_page" and not value and per_page:
            value = str(per_page)
        fields.append((name, value))
    if "page_num" not in {name for name, _ in fields}:
        fields.append(("page_num", str(target)))
    action = urljoin(url, form[0].get("action") or url)
    return (PageRequest(url=action, method="POST", formdata=tuple(fields), page=target),)
