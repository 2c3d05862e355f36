"""Items the spiders yield: an article read from a page, a page that could not be read, and
what revisits and listings tell about stored articles (checked, gone, listed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from crawler.extract.records import ArticleRecord


@dataclass(slots=True)
class ArticleItem:
    """An article read from one fetched page."""

    record: ArticleRecord
    seen_at: datetime  # when the page was fetched (UTC)
    body: bytes | None = field(default=None, repr=False)  # the raw page, kept for re-parsing
    status: int = 200
    content_type: str | None = None
    parser_version: str = ""


@dataclass(slots=True)
class FailureItem:
    """A page that was fetched (or tried) and gave no article: the URL and why."""

    url: str
    reason: str
    at: datetime
    listed_on: date | None = None  # the date the listing that linked it gave
    category: str | None = None  # the category of that listing (or of its request)


@dataclass(slots=True)
class ProgressItem:
    """Pages 1..``pages_done`` of a listing are fully handled by this backfill."""

    listing_url: str
    pages_done: int
    page_count: int | None = None


@dataclass(slots=True)
class CheckedItem:
    """A stored article's page was fetched again (a revisit or recheck) at ``at``.

    ``still_there`` when it answered ``304 Not Modified`` (the page is as last fetched).
    """

    url: str
    at: datetime
    still_there: bool = False


@dataclass(slots=True)
class GoneItem:
    """A stored article's page answered that it is gone (404 or 410)."""

    url: str
    reason: str  # e.g. "HTTP 404"
    at: datetime


@dataclass(slots=True)
class CategoryItem:
    """A listing that stands for ``category`` showed these article URLs: each article there
    is in it, whether fetched in this run or not."""

    category: str
    urls: tuple[str, ...]


@dataclass(slots=True)
class ListingItem:
    """The article URLs a listing page showed, in page order (``listing``: its URL, or
    ``URL#page=N`` for a page reached by form POST); None when it answered ``304 Not
    Modified`` (it shows what it showed last time)."""

    listing: str
    urls: tuple[str, ...] | None
    at: datetime
    page: int | None = None  # its page number in the listing, when known
