"""What a read of the archive returns and how it pages: filters, hits, pages, facets, and the
cursors that continue a page where the last one ended.

A cursor is opaque to its user (URL-safe text); inside it is the sort key of the last row
shown: (publication date, first sighting, id) for ``published``, (first sighting, id) for
``first-seen``, and for ``relevance`` the number of rows shown so far. Paging by key rather
than by offset keeps pages stable while articles arrive and deep pages as fast as the first.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    and_,
    cast,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB

from storage.models import ARTICLES
from storage.search import QueryError

#: The marks around a hit in a snippet (control characters: never in stored text).
HIT_START, HIT_END = "\x02", "\x03"
#: How :meth:`storage.fulltext.Search.find` orders the matches.
SearchSort = Literal["relevance", "published", "first-seen"]
SEARCH_SORTS: tuple[str, ...] = get_args(SearchSort)
#: How :meth:`storage.fulltext.Search.browse` orders the archive.
BrowseSort = Literal["published", "first-seen"]
BROWSE_SORTS: tuple[str, ...] = get_args(BrowseSort)
#: Words around the hits in a snippet (and at the start of a text, when browsing).
SNIPPET_WORDS = 24
#: The month of an article without a publication date, in :class:`Facets`.
UNDATED = "undated"


class CursorError(QueryError):
    """A page cursor that this archive did not make; the message is one line for the user."""


@dataclass(frozen=True)
class SearchFilters:
    """What a match must also be: from ``source``, in ``category``, published between
    ``since`` and ``until`` (inclusive), first seen at or after ``first_seen_since``, edited
    (more than one version), gone."""

    source: str | None = None
    category: str | None = None
    since: date | None = None
    until: date | None = None
    first_seen_since: datetime | None = None
    edited: bool = False
    gone: bool = False


@dataclass(frozen=True)
class SearchHit:
    """A matching article; ``version`` is the version that matched (``in_versions``)."""

    id: str
    url: str
    source: str
    title: str
    published: date | None
    first_seen: datetime
    gone_at: datetime | None
    version_count: int
    version: int | None
    snippet: str

    def plain_snippet(self) -> str:
        return self.snippet.replace(HIT_START, "").replace(HIT_END, "")


@dataclass(frozen=True)
class SearchPage:
    """One page of matches, how many there are in all, and the cursor of the next page
    (None on the last page).

    ``total_exact`` is False when counting stopped early: there are more than ``total``
    matches. ``ranked_among`` is set when relevance order ranked only that many of the
    matches (the most recently stored; :mod:`storage.ranking`)."""

    hits: list[SearchHit]
    total: int
    next_cursor: str | None = None
    total_exact: bool = True
    ranked_among: int | None = None


@dataclass(frozen=True)
class Facets:
    """How many matches each source has, and each month of publication ("YYYY-MM", newest
    first, :data:`UNDATED` last)."""

    by_source: dict[str, int] = field(default_factory=dict)
    by_month: list[tuple[str, int]] = field(default_factory=list)


#: The columns of a :class:`SearchHit` that come from the article.
HIT_COLUMNS = (
    ARTICLES.c.id,
    ARTICLES.c.url,
    ARTICLES.c.source,
    ARTICLES.c.title,
    ARTICLES.c.published,
    ARTICLES.c.first_seen,
    ARTICLES.c.gone_at,
    ARTICLES.c.version_count,
)


def check_sort(sort: str, known: tuple[str, ...]) -> None:
    if sort not in known:
        raise ValueError(f"unknown order {sort!r} (known: {', '.join(known)})")


def conditions(wanted: SearchFilters, sqlite: bool) -> list[ColumnElement[bool]]:
    """``wanted`` as conditions on the articles."""
    found: list[ColumnElement[bool]] = []
    if wanted.source is not None:
        found.append(ARTICLES.c.source == wanted.source)
    if wanted.category is not None:
        found.append(_in_category(wanted.category, sqlite))
    if wanted.since is not None:
        found.append(ARTICLES.c.published >= wanted.since)
    if wanted.until is not None:
        found.append(ARTICLES.c.published <= wanted.until)
    if wanted.first_seen_since is not None:
        found.append(ARTICLES.c.first_seen >= wanted.first_seen_since)
    if wanted.edited:
        found.append(ARTICLES.c.version_count > 1)
    if wanted.gone:
        found.append(ARTICLES.c.gone_at.is_not(None))
    return found


def _in_category(category: str, sqlite: bool) -> ColumnElement[bool]:
    if sqlite:
        each = func.json_each(ARTICLES.c.categories).table_valued("value")
        return select(literal(1)).select_from(each).where(each.c.value == category).exists()
    return cast(ARTICLES.c.categories, JSONB).contains(cast(literal([category], JSON), JSONB))


#: The publication order's key: an undated article sorts as the oldest (spelled exactly as
#: ``ix_articles_newest`` is, so both databases read pages from that index).
NEWEST = func.coalesce(ARTICLES.c.published, literal_column("'0001-01-01'"), type_=Date)
_UNDATED_KEY = date(1, 1, 1)


def _key_columns(sort: str) -> tuple[ColumnElement[Any], ...]:
    if sort == "first-seen":
        return (ARTICLES.c.first_seen, ARTICLES.c.id)
    return (NEWEST, ARTICLES.c.first_seen, ARTICLES.c.id)


def order(sort: str, rank: Any = None) -> tuple[Any, ...]:
    """The ORDER BY of ``sort`` (``rank``: lower is better, for ``relevance``): newest
    first, undated articles after the dated ones, ties to the latest first seen, then the id."""
    if sort == "relevance":
        return (rank, *(column.desc() for column in _key_columns("published")))
    return tuple(column.desc() for column in _key_columns(sort))


# -- cursors -------------------------------------------------------------------------------


def cursor_after(sort: str, row: Mapping[str, Any], shown: int) -> str:
    """The cursor of the page after ``row`` (the last shown; ``shown`` rows so far)."""
    key: dict[str, Any] = {"sort": sort}
    if sort == "relevance":
        key["offset"] = shown
    else:
        key["first_seen"] = row["first_seen"].isoformat()
        key["id"] = row["id"]
        if sort == "published":
            published = row["published"]
            key["published"] = published.isoformat() if published is not None else None
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(cursor: str, sort: str) -> dict[str, Any]:
    """The key inside ``cursor``, made for ``sort``; :class:`CursorError` if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
        if not isinstance(key, dict):
            raise ValueError("not an object")
        if key.get("sort") != sort:
            raise CursorError(f"this page cursor continues a list sorted by {key.get('sort')!r}")
        if sort == "relevance":
            offset = key["offset"]
            if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                raise ValueError("bad offset")
            return {"offset": offset}
        return _article_key(key, sort)
    except CursorError:
        raise
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise CursorError("malformed page cursor: start again from the first page") from None


def _article_key(key: dict[str, Any], sort: str) -> dict[str, Any]:
    if not isinstance(key["id"], str) or not isinstance(key["first_seen"], str):
        raise ValueError("bad key")
    found: dict[str, Any] = {
        "id": key["id"],
        "first_seen": datetime.fromisoformat(key["first_seen"]),
    }
    if sort == "published":
        published = key["published"]
        found["published"] = None if published is None else date.fromisoformat(published)
    return found


def after_key(sort: str, key: Mapping[str, Any]) -> ColumnElement[bool]:
    """The rows that come after ``key`` (from :func:`read_cursor`) in the ``sort`` order."""
    values: tuple[Any, ...] = (key["first_seen"], key["id"])
    if sort == "published":
        published = key["published"]
        values = (_UNDATED_KEY if published is None else published, *values)
    columns = _key_columns(sort)
    typed = [literal(value, column.type) for value, column in zip(values, columns, strict=True)]
    after = tuple_(*columns) < tuple_(*typed)
    if sort == "first-seen":
        return after
    # The leading expression's range on its own too: SQLite seeks an expression index only so.
    return and_(columns[0] <= typed[0], after)


def opening(text: str, words: int = SNIPPET_WORDS) -> str:
    """The first ``words`` words of ``text`` (paragraphs run together), "…" if there are more."""
    split = text.split(None, words)
    if len(split) > words:
        return " ".join(split[:words]) + " …"
    return " ".join(split)
