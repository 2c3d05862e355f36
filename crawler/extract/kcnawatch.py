"""KCNA Watch (kcnawatch.org), a WordPress aggregator that copies KCNA articles.

Article pages ``/newstream/<unix time>-<n>/<slug>/``. Little of the real markup is known, so the
parser finds things by text rather than by exact place:

- title: the article's ``<h1>``, else ``og:title``, else ``<title>``;
- meta line ``Date: 04/12/2023 | Source: KCNA.kp (En) | Read original version at source``
  (day first), found as the smallest element holding both "Date:" and "Source:";
- body: ``div.article-content`` paragraphs, else the paragraphs after the meta line up to the
  "More From" block; a ``www.kcna.kp (Juche112.12.4.)`` stamp in the body dates the article;
- "More From <source>": items with a title, a teaser and a date such as ``February 12, 2026``.

Listing pages: ``article.clearfix > div.article-thumb + div.article-desc > h4 > a`` with dates
such as ``Feb 12, 2026``; further pages through WordPress ``/page/N/`` links.
"""

from __future__ import annotations

import re
from datetime import date
from functools import partial
from itertools import takewhile
from operator import is_not
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from parsel import Selector

from .dates import infer_from_dateline, parse_dmy, parse_month_name, parse_stamp
from .query import css, string_value, xpath
from .records import ArticleRecord, ExtractionError, Listing, ListingEntry, PageRequest
from .text import (
    clean,
    find_dateline,
    finish_paragraphs,
    has_stamp,
    inline_text,
    join_paragraphs,
    page_title,
    parse_html,
)

_ID = re.compile(r"^/newstream/(\d+-\d+)(?:/|$)")
_PAGED = re.compile(r"/page/(\d+)/?$")
_SOURCE = re.compile(r"Source:\s*(.+?)\s*(?:\||Read original|$)")
#: ``starts-with(normalize-space(.), 'More From')``: XPath spaces are these four only.
_MORE_FROM = re.compile(r"[ \t\r\n]*More[ \t\r\n]+From")
_ORIGINAL_LINKS = xpath(".//a[contains(., 'original')]/@href")
_LINK_TARGETS = css("a::attr(href)")
_HEADINGS = css("article h1, h1.entry-title, h1.article-title, h1")
_OG_TITLE = css("meta[property='og:title']::attr(content)")
_CONTENT_PARAGRAPHS = css("div.article-content p")
_FOLLOWING_PARAGRAPHS = xpath("following::p")
_ITEM_LINKS = xpath(".//h4/a[@href] | .//h3/a[@href] | .//h2/a[@href]")
_ITEM = xpath("ancestor::article[1]")
_GRANDPARENT = xpath("../..")
_IMAGE_ALT = css("img::attr(alt)")
_ITEM_TEXTS = xpath(".//p | .//span | .//time")
_LISTING_ITEMS = css("article.clearfix")
_PAGE_HEADING = css("h1.page-title")
_NEXT_LINKS = css("link[rel=next]::attr(href), a.next::attr(href), a[rel=next]::attr(href)")
_TITLE_SUFFIX = re.compile(r"\s*[|\u2013\u2014-]\s*KCNA Watch\s*$")


def source_key(url: str) -> str | None:
    """``https://kcnawatch.org/newstream/1701650000-123/slug/`` -> ``kcnawatch:1701650000-123``."""
    match = _ID.match(urlsplit(url).path)
    return f"kcnawatch:{match.group(1)}" if match else None


def kcna_original(href: str | None) -> str | None:
    """A kcna.kp link as ``http://www.kcna.kp/...``; None for links elsewhere."""
    if not href:
        return None
    parts = urlsplit(href.strip())
    host = (parts.hostname or "").lower()
    if host not in ("kcna.kp", "www.kcna.kp"):
        return None
    return urlunsplit(("http", "www.kcna.kp", parts.path or "/", parts.query, ""))


def parse_article(
    url: str, body: bytes | str | Selector, *, hint: ListingEntry | None = None, today: date
) -> ArticleRecord:
    """Read a KCNA Watch article page.

    Date, best first: the kcna.kp stamp copied into the body ("page-stamp"), the meta line
    ("meta-line"), the listing entry ("listing"), the dateline ("dateline").
    """
    page = parse_html(body).root
    meta, meta_text, more = _landmarks(page)
    meta_text = clean(meta_text)
    title = _title(page)
    raw = _body_paragraphs(page, meta, more)
    stamped = next((parse_stamp(p) for p in raw if has_stamp(p)), None)
    paragraphs = finish_paragraphs(raw)
    if not title or not paragraphs:
        raise ExtractionError("kcnawatch article: no title or no body paragraphs")
    dateline = find_dateline(paragraphs[0])

    candidates = [
        (stamped, "page-stamp"),
        (parse_dmy(meta_text.split("Date:", 1)[-1]) if meta_text else None, "meta-line"),
        (hint.published if hint else None, "listing"),
        (infer_from_dateline(dateline, today) if dateline else None, "dateline"),
    ]
    published, origin = next(((d, o) for d, o in candidates if d), (None, None))
    source = _SOURCE.search(meta_text)
    original = None
    if meta is not None:  # the "Read original" link first, then any link to kcna.kp
        original = next(filter(None, map(kcna_original, _ORIGINAL_LINKS(meta))), None)
        original = original or next(filter(None, map(kcna_original, _LINK_TARGETS(meta))), None)
    return ArticleRecord(
        url=url,
        canonical_url=original or url,
        source=source.group(1) if source else "KCNA Watch",
        title=title,
        text=join_paragraphs(paragraphs),
        published=published,
        published_from=origin,
        dateline=dateline,
        source_key=source_key(url),
        related=_related(page, url, more),
    )


#: Marks of the elements whose text passes the meta line's or the "More From" block's test.
_META_LINE, _MORE_FROM_BLOCK = 1, 2


def _landmarks(page: Any) -> tuple[Any | None, str, Any | None]:
    """The meta line, its text, and the "More From" block's element (None when missing).

    For each, the first element inside ``<body>`` whose text passes the test while no element
    within it does: what ``//body//*[test(.)][not(.//*[test(.)])]`` selects, found for both in
    one walk that builds each element's text (its XPath string value) from its children's.
    Such innermost elements never hold one another, so the first one finished is the first in
    page order.
    """
    found: dict[int, tuple[Any, str]] = {}
    for body in page.iter("body"):
        # Per open element: the element, its children still to visit, its text so far and
        # the marks of the elements within it.
        frames: list[list[Any]] = [[body, iter(body), [body.text or ""], 0]]
        while True:
            frame = frames[-1]
            child = next(frame[1], None)
            if child is None:  # the element is finished
                frames.pop()
                if not frames:
                    break  # <body> itself is no candidate
                element, text, within = frame[0], "".join(frame[2]), frame[3]
                frame = frames[-1]
            elif not isinstance(child.tag, str):  # a comment or PI: only its tail is text
                frame[2].append(child.tail or "")
                continue
            elif len(child):
                frames.append([child, iter(child), [child.text or ""], 0])
                continue
            else:  # an empty element or one with text only, finished at once
                element, text, within = child, child.text or "", 0
            marks = within
            if "Date:" in text and "Source:" in text:
                marks |= _META_LINE
                if not within & _META_LINE:
                    found.setdefault(_META_LINE, (element, text))
            if _MORE_FROM.match(text):
                marks |= _MORE_FROM_BLOCK
                if not within & _MORE_FROM_BLOCK:
                    found.setdefault(_MORE_FROM_BLOCK, (element, text))
            frame[2] += (text, element.tail or "")
            frame[3] |= marks
    meta, meta_text = found.get(_META_LINE, (None, ""))
    return meta, meta_text, found.get(_MORE_FROM_BLOCK, (None, ""))[0]


def _title(page: Any) -> str:
    for heading in _HEADINGS(page):
        text = inline_text(heading)
        if text:
            return text
    og = clean(next(iter(_OG_TITLE(page)), ""))
    head = og or page_title(page)
    return _TITLE_SUFFIX.sub("", head)


def _body_paragraphs(page: Any, meta: Any | None, more: Any | None) -> list[str]:
    """Body paragraphs in page order, stopping at the "More From" block."""
    # The nodes before the "More From" block in page order (all of them when it is missing).
    before = set(takewhile(partial(is_not, more), page.iter()))
    nodes = _CONTENT_PARAGRAPHS(page)
    if not nodes and meta is not None:
        nodes = _FOLLOWING_PARAGRAPHS(meta)
    result = []
    for node in nodes:
        if node not in before:
            break
        text = inline_text(node)
        if not ("Date:" in text and "Source:" in text):
            result.append(text)
    return result


def _related(page: Any, url: str, more: Any | None) -> tuple[ListingEntry, ...]:
    if more is None or more.getparent() is None:
        return ()
    return _entries(more.getparent(), url)


def _entries(block: Any, url: str) -> tuple[ListingEntry, ...]:
    """Items of a listing or "More From" block, each a heading link with teaser and date."""
    entries: dict[str, ListingEntry] = {}
    for link in _ITEM_LINKS(block):
        href = urljoin(url, link.get("href").strip())
        item = _ITEM(link) or _GRANDPARENT(link)
        title = inline_text(link) or clean(_first_alt(item))
        published, teaser = None, None
        texts = map(string_value, _ITEM_TEXTS(item[0]))
        for text in map(clean, texts):
            if not text or text == title:
                continue
            day = parse_dmy(text) if len(text) < 40 else None
            if day and published is None:
                published = day
            elif teaser is None and not day:
                teaser = text
        if published is None:
            published = parse_month_name(title)
        if title and href not in entries and not href.startswith("javascript:"):
            entries[href] = ListingEntry(url=href, title=title, published=published, teaser=teaser)
    return tuple(entries.values())


def parse_listing(url: str, body: bytes | str | Selector) -> Listing:
    """Read a KCNA Watch listing page (``/newstream/``, archives, search results)."""
    page = parse_html(body).root
    items = _LISTING_ITEMS(page)
    entries: list[ListingEntry] = []
    seen: set[str] = set()
    for item in items:
        for entry in _entries(item, url):
            if entry.url not in seen:
                seen.add(entry.url)
                entries.append(entry)
    match = _PAGED.search(urlsplit(url).path)
    current = int(match.group(1)) if match else 1
    return Listing(
        url=url,
        entries=tuple(entries),
        next_pages=_next_page(page, url, current),
        category=clean(next(map(string_value, _PAGE_HEADING(page)), "")) or None,
        current_page=current,
    )


def _next_page(page: Any, url: str, current: int) -> tuple[PageRequest, ...]:
    candidates = _NEXT_LINKS(page) + _LINK_TARGETS(page)
    for href in candidates:
        target = urljoin(url, href.strip())
        match = _PAGED.search(urlsplit(target).path)
        if match and int(match.group(1)) == current + 1:
            return (PageRequest(url=target, page=current + 1),)
    return ()


def _first_alt(items: list[Any]) -> str:
    """The first ``img`` ``alt`` text within ``items`` (in their order), else ""."""
    for item in items:
        for alt in _IMAGE_ALT(item):
            return str(alt)
    return ""
