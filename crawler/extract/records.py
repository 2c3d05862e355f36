"""What the extraction functions return.

Every layout turns into the same two shapes: an :class:`ArticleRecord` for an
article page and a :class:`Listing` for a listing page. These are plain,
immutable values so that extraction stays pure and easy to compare in tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

#: Where an article's publication date was read from, best first.
DateOrigin = Literal["page-stamp", "listing", "meta-line", "dateline"]
DATE_ORIGINS: tuple[DateOrigin, ...] = ("page-stamp", "listing", "meta-line", "dateline")

#: The publisher feed name of kcna.kp's English edition, as KCNA Watch spells it.
KCNA_EN = "KCNA.kp (En)"


class ExtractionError(Exception):
    """The page is of a known kind but could not be parsed (layout change, truncated page...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAnArticle(ExtractionError):
    """The page is not an article at all: a gallery, a photo page, a menu, a filter page."""


@dataclass(frozen=True, slots=True)
class ListingEntry:
    """One item of a listing page: a link to an article and what the listing says of it."""

    url: str  # absolute URL on the public host
    title: str
    published: date | None = None
    teaser: str | None = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """How to fetch another page of a listing (plain GET or the site's form POST)."""

    url: str
    method: Literal["GET", "POST"] = "GET"
    formdata: tuple[tuple[str, str], ...] = ()
    page: int | None = None  # the page number it leads to, when known


@dataclass(frozen=True, slots=True)
class Listing:
    """A listing page: its entries in page order and where further pages are."""

    url: str
    entries: tuple[ListingEntry, ...]
    next_pages: tuple[PageRequest, ...] = ()
    category: str | None = None
    current_page: int | None = None
    page_count: int | None = None


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """One article as read from one page, in the project's single article schema.

    ``url`` is the page it was read from; ``canonical_url`` the publisher's own URL when the
    page names it (a KCNA Watch copy names the kcna.kp original), else ``url``.
    ``source_key`` is the site's own article id where it has one (``kcna-detail:<hex>``,
    ``kcnawatch:<time>-<n>``), used with the content fingerprint to recognise the article.
    """

    url: str
    canonical_url: str
    source: str
    title: str
    text: str
    published: date | None
    published_from: DateOrigin | None
    dateline: str | None
    categories: tuple[str, ...] = ()
    source_key: str | None = None
    related: tuple[ListingEntry, ...] = field(default=())  # e.g. KCNA Watch's "More From" block

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings), used by fixture tests."""
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        data["categories"] = list(self.categories)
        data["related"] = [
            {**asdict(e), "published": e.published.isoformat() if e.published else None}
            for e in self.related
        ]
        return data
