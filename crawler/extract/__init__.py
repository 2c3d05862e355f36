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
from .query import css, xpath
from .records import ArticleRecord, ExtractionError, Listing, ListingEntry, NotAnArticle
from .text import clean, parse_html

#: Bumped whenever a change to extraction can change its output for the same page.
#: 2: control characters are dropped from every text; over-long texts are refused.
#: 3: listing and meta-line dates are read in more spellings (month names either side of the
#: day, ordinals, ``-``/``/`` separators, ``Juche 113 (2024)``, full-width digits).
PARSER_VERSION = "3"

#: The longest article text and title read (characters). The longest real kcna.kp article of
#: 2024 has about 40,000 characters and a 163-character title: a page over these holds
#: something else than one article, and is refused rather than stored cut short.
MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 2_000

__all__ = [
    "MAX_TEXT_CHARS",
    "MAX_TITLE_CHARS",
    "PARSER_VERSION",
    "extract_page",
    "page_kind",
    "shown_instead",
]

#: What a stored article's URL may show once the article is deleted (see :func:`shown_instead`).
HOME_PAGE = "the site's home page"
LIST_PAGE = "a list of articles"
ERROR_PAGE = "an error page"

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
_HOME_PATHS = frozenset({"", "/en", "/index.html", "/index.php", "/en/index.html"})
_ERROR_WORDS = re.compile(
    r"\b(?:404|410|not found|no longer (?:exists|available)|does not exist|error)\b", re.I
)
_HEAD_TEXT = xpath("concat(string(//title), ' ', string(//h1))")
_GALLERY = css("div.gallery div.slider")
_ARTICLE_MARKUP = css("ul.article-link, div.article-content-body")
_Q_ARTICLE = css("div.article-content-body")
_Q_LISTING = css("ul.article-link")
_DETAIL_ARTICLE = css("main article div.container h1")
_DETAIL_LISTING = css("div.article h5.block")
_DETAIL_FORM = css("form#article_form")
_DATE_AND_SOURCE = xpath("//*[contains(., 'Date:') and contains(., 'Source:')]")
_LISTING_ITEM = css("article.clearfix")
_BODY_LINK = css("body a[href]")
_BODY_PARAGRAPH = css("body p")
_ARTICLE_KINDS: dict[str, Callable[..., ArticleRecord]] = {
    "kcna-q-article": kcna_q.parse_article,
    "kcna-detail-article": kcna_detail.parse_article,
    "kcnawatch-article": kcnawatch.parse_article,
}
_LISTING_KINDS: dict[str, Callable[[str, Selector], Listing]] = {
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
            return _within_caps(_ARTICLE_KINDS[kind](url, page, hint=hint, today=today))
        if kind in _LISTING_KINDS:
            return _LISTING_KINDS[kind](url, page)
        raise ExtractionError(f"unknown page kind {kind!r}")
    except ExtractionError:
        raise
    except Exception as exc:  # a parser bug or a page no one foresaw: report, never crash
        raise ExtractionError(f"parser failure on {url}: {type(exc).__name__}: {exc}") from exc


def shown_instead(url: str, body: bytes | str, *, final_url: str | None = None) -> str | None:
    """What a page fetched for the article at ``url`` shows instead of an article, when it
    shows a page of another kind: :data:`HOME_PAGE`, :data:`LIST_PAGE` or :data:`ERROR_PAGE`
    (a deletion answered softly, with a redirect or a 200). ``final_url`` is the public URL the
    page was read at, after redirects. None when it shows an article, or nothing known (a
    page that cannot be read says nothing of a deletion)."""
    target = final_url or url
    if target != url:
        parts = urlsplit(target)
        if parts.path.rstrip("/") in _HOME_PATHS and not parts.query:
            return HOME_PAGE
        if (page_kind(target) or "").endswith("-listing"):
            return LIST_PAGE
    try:
        text = _decode(body)
        page = _parse(text)
    except ExtractionError:
        return None
    try:
        kind: str | None = _sniff(page, text)
    except (ExtractionError, NotAnArticle):
        kind = None
    if kind is not None:
        return LIST_PAGE if kind.endswith("-listing") else None
    return ERROR_PAGE if _ERROR_WORDS.search(clean(_HEAD_TEXT(page.root))) else None


def _within_caps(record: ArticleRecord) -> ArticleRecord:
    """The record, unless its text or title is longer than any article's could be."""
    if len(record.text) > MAX_TEXT_CHARS:
        raise ExtractionError(
            f"article text longer than {MAX_TEXT_CHARS:,} characters "
            f"({len(record.text):,}): not stored"
        )
    if len(record.title) > MAX_TITLE_CHARS:
        raise ExtractionError(
            f"article title longer than {MAX_TITLE_CHARS:,} characters "
            f"({len(record.title):,}): not stored"
        )
    return record


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
    return parse_html(re.sub(r"^\s*<\?xml[^>]*\?>", "", text))


def _refuse_non_articles(page: Selector, kind: str | None, text: str) -> None:
    root = page.root
    head = clean(_HEAD_TEXT(root))
    if "Web Page Blocked" in head:
        raise NotAnArticle("a web filter's 'Web Page Blocked' page, not the requested page")
    if kind == "kcna-gallery" or (kind is None and _GALLERY(root)):
        raise NotAnArticle("a kcna.kp gallery/photo/media page, not an article")
    if "fn_showArticle" in text and not _ARTICLE_MARKUP(root):
        raise NotAnArticle("old kcna.kp javascript-only page (articles opened by fn_showArticle)")


def _sniff(page: Selector, text: str) -> str:
    """The layout of a page whose URL says nothing, from its markup."""
    root = page.root
    if _Q_ARTICLE(root):
        return "kcna-q-article"
    if _Q_LISTING(root):
        return "kcna-q-listing"
    if _DETAIL_ARTICLE(root):
        return "kcna-detail-article"
    if _DETAIL_LISTING(root) or _DETAIL_FORM(root):
        return "kcna-detail-listing"
    if "kcnawatch" in text.lower():
        if _DATE_AND_SOURCE(root):
            return "kcnawatch-article"
        if _LISTING_ITEM(root):
            return "kcnawatch-listing"
    if _BODY_LINK(root) and not _BODY_PARAGRAPH(root):
        raise NotAnArticle("no article or listing on the page (menu-only page)")
    raise ExtractionError("unrecognised page: no known article or listing layout")
