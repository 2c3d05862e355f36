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
from urllib.parse import urljoin, urlsplit, urlunsplit

from parsel import Selector

from .dates import infer_from_dateline, parse_dmy, parse_month_name, parse_stamp
from .records import ArticleRecord, ExtractionError, Listing, ListingEntry, PageRequest
from .text import (
    STAMP_RE,
    clean,
    clean_paragraphs,
    find_dateline,
    inline_text,
    join_paragraphs,
    parse_html,
)

_ID = re.compile(r"^/newstream/(\d+-\d+)(?:/|$)")
_PAGED = re.compile(r"/page/(\d+)/?$")
_SOURCE = re.compile(r"Source:\s*(.+?)\s*(?:\||Read original|$)")
_META_XPATH = (
    "//body//*[contains(., 'Date:') and contains(., 'Source:')]"
    "[not(.//*[contains(., 'Date:') and contains(., 'Source:')])]"
)
_MORE_XPATH = (
    "//body//*[starts-with(normalize-space(.), 'More From')]"
    "[not(.//*[starts-with(normalize-space(.), 'More From')])]"
)
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
    url: str, body: bytes | str, *, hint: ListingEntry | None = None, today: date
) -> ArticleRecord:
    """Read a KCNA Watch article page.

    Date, best first: the kcna.kp stamp copied into the body ("page-stamp"), the meta line
    ("meta-line"), the listing entry ("listing"), the dateline ("dateline").
    """
    page = parse_html(body)
    meta = page.xpath(_META_XPATH)
    meta_text = clean(meta[0].xpath("string()").get("")) if meta else ""
    more = page.xpath(_MORE_XPATH)
    title = _title(page)
    raw = _body_paragraphs(page, meta[0] if meta else None, more[0] if more else None)
    stamped = next((parse_stamp(p) for p in raw if STAMP_RE.search(p)), None)
    paragraphs = clean_paragraphs(raw)
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
    if meta:
        links = meta[0].xpath(".//a[contains(., 'original')]/@href").getall()
        links += meta[0].css("a::attr(href)").getall()
        original = next(filter(None, map(kcna_original, links)), None)
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
        related=_related(page, url, more[0] if more else None),
    )


def _title(page: Selector) -> str:
    for heading in page.css("article h1, h1.entry-title, h1.article-title, h1"):
        text = inline_text(heading)
        if text:
            return text
    og = clean(page.css("meta[property='og:title']::attr(content)").get(""))
    head = og or clean(page.xpath("string(//title)").get(""))
    return _TITLE_SUFFIX.sub("", head)


def _body_paragraphs(page: Selector, meta: Selector | None, more: Selector | None) -> list[str]:
    """Body paragraphs in page order, stopping at the "More From" block."""
    order = {element: i for i, element in enumerate(page.root.iter())}
    stop = order.get(more.root) if more is not None else None
    nodes = page.css("div.article-content p")
    if not nodes and meta is not None:
        nodes = meta.xpath("following::p")
    result = []
    for node in nodes:
        if stop is not None and order.get(node.root, 0) >= stop:
            break
        text = inline_text(node)
        if not ("Date:" in text and "Source:" in text):
            result.append(text)
    return result


def _related(page: Selector, url: str, more: Selector | None) -> tuple[ListingEntry, ...]:
    if more is None or more.root.getparent() is None:
        return ()
    block = Selector(root=more.root.getparent())
    return _entries(block, url, long_dates=True)


def _entries(block: Selector, url: str, *, long_dates: bool = False) -> tuple[ListingEntry, ...]:
    """Items of a listing or "More From" block, each a heading link with teaser and date."""
    entries: dict[str, ListingEntry] = {}
    for link in block.xpath(".//h4/a[@href] | .//h3/a[@href] | .//h2/a[@href]"):
        href = urljoin(url, link.attrib["href"].strip())
        item = link.xpath("ancestor::article[1]") or link.xpath("../..")
        title = inline_text(link) or clean(item.css("img::attr(alt)").get(""))
        published, teaser = None, None
        texts = item[0].xpath(".//p | .//span | .//time").xpath("string()").getall()
        for text in map(clean, texts):
            if not text or text == title:
                continue
            day = parse_month_name(text) if len(text) < 40 else None
            if day and published is None:
                published = day
            elif teaser is None and not day:
                teaser = text
        if published is None:
            published = parse_month_name(title)
        if title and href not in entries and not href.startswith("javascript:"):
            entries[href] = ListingEntry(url=href, title=title, published=published, teaser=teaser)
    return tuple(entries.values())


def parse_listing(url: str, body: bytes | str) -> Listing:
    """Read a KCNA Watch listing page (``/newstream/``, archives, search results)."""
    page = parse_html(body)
    items = page.css("article.clearfix")
    entries: list[ListingEntry] = []
    seen: set[str] = set()
    for item in items:
        for entry in _entries(Selector(root=item.root), url):
            if entry.url not in seen:
                seen.add(entry.url)
                entries.append(entry)
    match = _PAGED.search(urlsplit(url).path)
    current = int(match.group(1)) if match else 1
    return Listing(
        url=url,
        entries=tuple(entries),
        next_pages=_next_page(page, url, current),
        category=clean(page.css("h1.page-title").xpath("string()").get("")) or None,
        current_page=current,
    )


def _next_page(page: Selector, url: str, current: int) -> tuple[PageRequest, ...]:
    hrefs = page.css("link[rel=next]::attr(href), a.next::attr(href), a[rel=next]::attr(href)")
    candidates = hrefs.getall() + page.css("a::attr(href)").getall()
    for href in candidates:
        target = urljoin(url, href.strip())
        match = _PAGED.search(urlsplit(target).path)
        if match and int(match.group(1)) == current + 1:
            return (PageRequest(url=target, page=current + 1),)
    return ()
