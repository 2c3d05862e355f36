"""Pure extraction: a page's text and public URL in, an article record or a listing out.

:func:`extract_page` picks the layout from the URL (:func:`page_kind`), or from the markup when
the URL says nothing, and raises :class:`NotAnArticle` for pages that hold no article (filter
pages, galleries, menus) and :class:`ExtractionError` for pages it cannot read. No other
exception type leaves this package.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from urllib.parse import parse_qs, urlsplit

from parsel import Selector

from . import kcna_detail, kcna_q, kcnawatch
from .records import ArticleRecord, ExtractionError, Listing, ListingEntry, NotAnArticle
from .text import clean

#: Bumped whenever a change to extraction can change its output for the same page.
PARSER_VERSION = "1"

__all__ = ["PARSER_VERSION", "extract_page", "page_kind"]

_KCNA_KINDS = (
    (re.compile(r"^/en/article/q/[0-9a-f]+\.kcmsf$", re.I), "kcna-q-article"),
    (re.compile(r"^/en/category/articles(?:/q/[0-9a-f]+)?\.kcmsf$", re.I), "kcna-q-listing"),
    (re.compile(r"^/en/article/detail/[0-9a-f]+/?$", re.I), "kcna-detail-article"),
    (re.compile(r"^/en/article/list/[0-9a-f]+/?$", re.I), "kcna-detail-listing"),
    (re.compile(r"^/(?:en/gallery/|en/media/|photo/|siteFiles/)", re.I), "kcna-gallery"),
)
_KCNAWATCH_ARTICLE = re.compile(r"^/newstream/\d+-\d+(?:/|$)")
_KCNAWATCH_LISTING = re.compile(
    r"^/(?:newstream|kctv-archive|category/[^/]+|tag/[^/]+)/?(?:page/\d+/?)?$|^/?$"
)
_ARTICLE_KINDS: dict[str, Callable[..., ArticleRecord]] = {
    "kcna-q-article": kcna_q.parse_article,
    "kcna-detail-article": kcna_detail.parse_article,
    "kcnawatch-article": kcnawatch.parse_article,
}
_LISTING_KINDS: dict[str, Callable[[str, str], Listing]] = {
    "kcna-q-listing": kcna_q.parse_listing,
    "kcna-detail-listing": kcna_detail.parse_listing,
    "kcnawatch-listing": kcnawatch.parse_listing,
}


def page_kind(url: str) -> str | None:
    """What a URL's path says a page is, or None when it says nothing known."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path or "/"
    if host == "kcna.kp":
        return next((kind for pattern, kind in _KCNA_KINDS if pattern.search(path)), None)
    if host == "kcnawatch.org":
        if _KCNAWATCH_ARTICLE.search(path):
            return "kcnawatch-article"
        if "/feed" in path:
            return None
        if _KCNAWATCH_LISTING.search(path) or "s" in parse_qs(parts.query):
            return "kcnawatch-listing"
    return None


def extract_page(
    url: str, body: bytes | str, *, hint: ListingEntry | None = None, today: date
) -> ArticleRecord | Listing:
    """Read one page: an :class:`ArticleRecord` for an article, a :class:`Listing` for a list.

    ``url`` is the page's public URL, ``hint`` the listing entry that linked it (its date is
    used when the page has none) and ``today`` the Pyongyang local date of the crawl.
    """
    try:
        text = _decode(body)
        kind = page_kind(url)
        page = _parse(text)
        _refuse_non_articles(page, kind, text)
        kind = kind or _sniff(page, text)
        if kind in _ARTICLE_KINDS:
            if "-0-" not in text and not re.search(r"</html\s*>", text, re.I):
                raise ExtractionError("page looks truncated: no end marker and no </html>")
            return _ARTICLE_KINDS[kind](url, text, hint=hint, today=today)
        if kind in _LISTING_KINDS:
            return _LISTING_KINDS[kind](url, text)
        raise ExtractionError(f"unknown page kind {kind!r}")
    except ExtractionError:
        raise
    except Exception as exc:  # a parser bug or a page no one foresaw: report, never crash
        raise ExtractionError(f"parser failure on {url}: {type(exc).__name__}: {exc}") from exc


def _decode(body: bytes | str) -> str:
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not text.strip():
        raise ExtractionError("empty page")
    if "\x00" in text or text.count("\ufffd") > max(20, len(text) // 100):
        raise ExtractionError("not a text page (binary or wrongly encoded body)")
    if text.lstrip().startswith("<?xml") and not re.search(r"<html[\s>]", text[:2000], re.I):
        raise ExtractionError("an XML answer, not an HTML page (old kcna.kp article API?)")
    if "<" not in text:
        raise ExtractionError("not an HTML page (no markup)")
    return text


def _parse(text: str) -> Selector:
    # lxml refuses str input that still declares its encoding
    return Selector(text=re.sub(r"^\s*<\?xml[^>]*\?>", "", text), type="html")


def _refuse_non_articles(page: Selector, kind: str | None, text: str) -> None:
    head = clean(page.xpath("string(//title)").get("") + " " + page.xpath("string(//h1)").get(""))
    if "Web Page Blocked" in head:
        raise NotAnArticle("a web filter's 'Web Page Blocked' page, not the requested page")
    if kind == "kcna-gallery" or (kind is None and page.css("div.gallery div.slider")):
        raise NotAnArticle("a kcna.kp gallery/photo/media page, not an article")
    if "fn_showArticle" in text and not page.css("ul.article-link, div.article-content-body"):
        raise NotAnArticle("old kcna.kp javascript-only page (articles opened by fn_showArticle)")


def _sniff(page: Selector, text: str) -> str:
    """The layout of a page whose URL says nothing, from its markup."""
    if page.css("div.article-content-body"):
        return "kcna-q-article"
    if page.css("ul.article-link"):
        return "kcna-q-listing"
    if page.css("main article div.container h1"):
        return "kcna-detail-article"
    if page.css("div.article h5.block") or page.css("form#article_form"):
        return "kcna-detail-listing"
    if "kcnawatch" in text.lower():
        if page.xpath("//*[contains(., 'Date:') and contains(., 'Source:')]"):
            return "kcnawatch-article"
        if page.css("article.clearfix"):
            return "kcnawatch-listing"
    if page.css("body a[href]") and not page.css("body p"):
        raise NotAnArticle("no article or listing on the page (menu-only page)")
    raise ExtractionError("unrecognised page: no known article or listing layout")
