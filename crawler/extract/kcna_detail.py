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
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from .dates import infer_from_dateline, parse_dotted
from .records import KCNA_EN, ArticleRecord, ExtractionError, Listing, ListingEntry, PageRequest
from .text import (
    clean,
    find_dateline,
    inline_text,
    join_paragraphs,
    kcna_category,
    paragraphs_of,
    parse_html,
)

_HEX_ID = re.compile(r"/en/article/detail/([0-9a-fA-F]{16,})")
_LIST_DATE = re.compile(r"^\[?\s*\d{4}\.\d{1,2}\.\d{1,2}\.?\s*\]?$")
_SCRIPT_VAR = re.compile(r"\b(total|cur_page|per_page|page_cnt)\s*=\s*['\"]?(\d+)")


def source_key(url: str) -> str | None:
    """``.../en/article/detail/<hex>`` -> ``kcna-detail:<hex>`` (lower case)."""
    match = _HEX_ID.search(urlsplit(url).path)
    return f"kcna-detail:{match.group(1).lower()}" if match else None


def main_is_empty(page: Selector) -> bool:
    """True when the page has a ``<main>`` with no text and no element inside but whitespace."""
    main = page.css("main")
    if not main:
        return False
    return not clean(main[0].xpath("string()").get("")) and not main[0].xpath(".//img|.//a")


def parse_article(
    url: str, body: bytes | str, *, hint: ListingEntry | None = None, today: date
) -> ArticleRecord:
    """Read a ``/detail/`` article page.

    The page has no date: it comes from the listing entry that linked the page ("listing"),
    else from the dateline's month and day with ``today``'s year ("dateline").
    """
    page = parse_html(body)
    if main_is_empty(page):
        raise ExtractionError("kcna /detail/ article: empty <main> (answered without session?)")
    container = page.css("main article div.container") or page.css("main article")
    if not container:
        raise ExtractionError("kcna /detail/ article: no main > article > div.container")
    box = container[0]
    headings = [inline_text(h) for h in box.css("h1.text-danger")] or [
        inline_text(h) for h in box.css("h1")
    ]
    title = next((h for h in headings if h), "")
    paragraphs = paragraphs_of(box.css("p"))
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


def parse_listing(url: str, body: bytes | str) -> Listing:
    """Read a ``/detail/`` list page and the form request for its next page.

    An empty ``<main>`` (no session cookie) gives an empty listing without next pages.
    """
    page = parse_html(body)
    entries: dict[str, ListingEntry] = {}
    for heading in page.css("div.article h5.block"):
        links = heading.css("a[href]")
        if not links:
            continue
        href = urljoin(url, links[0].attrib["href"].strip())
        published = None
        for nobr in _date_candidates(heading):
            if _LIST_DATE.match(clean(nobr.xpath("string()").get(""))):
                published = parse_dotted(nobr.xpath("string()").get(""))
                nobr.root.getparent().remove(nobr.root)
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


def _date_candidates(heading: Selector) -> list[Selector]:
    """The ``<nobr>`` elements of one item: in the heading, then until the next heading."""
    found = list(heading.css("nobr"))
    for sibling in heading.xpath("following-sibling::*"):
        if sibling.root.tag == "h5":
            break
        found.extend(sibling.xpath("descendant-or-self::nobr"))
    return found


def _scripts(page: Selector) -> str:
    return "\n".join(page.xpath("//script[not(@src)]/text()").getall())


def _next_page(
    page: Selector, url: str, current: int | None, count: int | None, per_page: int | None
) -> tuple[PageRequest, ...]:
    form = page.css("form#article_form")
    if current is None or count is None or current + 1 > count or not form:
        return ()
    target = current + 1
    fields: list[tuple[str, str]] = []
    for field in form[0].xpath(".//input[@name]"):
        name, value = field.attrib["name"], field.attrib.get("value", "")
        if name == "page_num":
            value = str(target)
        elif name == "cnt_per_page" and not value and per_page:
            value = str(per_page)
        fields.append((name, value))
    if "page_num" not in {name for name, _ in fields}:
        fields.append(("page_num", str(target)))
    action = urljoin(url, form[0].attrib.get("action") or url)
    return (PageRequest(url=action, method="POST", formdata=tuple(fields), page=target),)
