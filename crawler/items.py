"""Items the spiders yield: an article read from a page, or a page that could not be read."""

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


@dataclass(slots=True)
class ProgressItem:
    """Pages 1..``pages_done`` of a listing are fully handled by this backfill."""

    listing_url: str
    pages_done: int
    page_count: int | None = None
