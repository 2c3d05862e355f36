"""What a page or API request asks of the archive, read from its query string
(:func:`archive_query`), and the query string of a page of it (:meth:`ArchiveQuery.link`),
so that every page of results has a stable URL.

A value that cannot be read is :class:`BadRequest`, one line naming the parameter (400);
an unknown parameter is ignored, as browsers and feed readers add their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from storage.fulltext import SEARCH_SORTS, SearchFilters

#: The most results one request may ask for.
MAX_LIMIT = 100
#: The last page a client may ask for (deeper: narrow the query).
MAX_PAGE = 1000
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class BadRequest(ValueError):
    """A request parameter that cannot be read; the message names it."""


@dataclass(frozen=True)
class ArchiveQuery:
    """A search (``q``) or, with no query, a view of the archive; filtered, sorted, paged."""

    q: str = ""
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: str = "published"
    page: int = 1
    limit: int = 25
    in_versions: bool = False
    after: str | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def link(self, **changes: Any) -> str:
        """The query string (with ``?``; empty when nothing is set) of this query with
        ``changes``; default values are left out so that URLs stay short and stable."""
        query = replace(self, **changes)
        default_sort = "relevance" if query.q else "published"
        filters = query.filters
        pairs: list[tuple[str, str]] = []
        for key, value, default in (
            ("q", query.q, ""),
            ("source", filters.source, None),
            ("category", filters.category, None),
            ("since", filters.since and filters.since.isoformat(), None),
            ("until", filters.until and filters.until.isoformat(), None),
            (
                "first_seen_since",
                filters.first_seen_since and filters.first_seen_since.date().isoformat(),
                None,
            ),
            ("edited", "1" if filters.edited else None, None),
            ("gone", "1" if filters.gone else None, None),
            ("in_versions", "1" if query.in_versions else None, None),
            ("sort", query.sort, default_sort),
            ("page", str(query.page), "1"),
        ):
            if value is not None and value != default:
                pairs.append((key, value))
        return "?" + urlencode(pairs) if pairs else ""


def archive_query(params: QueryParams, *, limit: int, api: bool = False) -> ArchiveQuery:
    """The :class:`ArchiveQuery` of a request's query string (``limit``: the page size
    unless the API request sets ``limit``); raises :class:`BadRequest`."""
    q = " ".join(params.get("q", "").split())
    if len(q) > 500:
        raise BadRequest("q: too long (at most 500 characters)")
    # An article's source is its publisher feed (e.g. "KCNA.kp (En)"), as search --source.
    source = " ".join(params.get("source", "").split()) or None
    if source is not None and len(source) > 200:
        raise BadRequest("source: too long (at most 200 characters)")
    filters = SearchFilters(
        source=source,
        category=params.get("category") or None,
        since=_date(params, "since"),
        until=_date(params, "until"),
        first_seen_since=_moment(params, "first_seen_since"),
        edited=_flag(params, "edited"),
        gone=_flag(params, "gone"),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise BadRequest("since: after until")
    sorts = SEARCH_SORTS if q else tuple(s for s in SEARCH_SORTS if s != "relevance")
    sort = params.get("sort") or ("relevance" if q else "published")
    if sort not in sorts:
        raise BadRequest(f"sort: unknown order {sort!r} (known: {', '.join(sorts)})")
    if api and "limit" in params:
        limit = _whole(params, "limit", 1, MAX_LIMIT)
    page = _whole(params, "page", 1, MAX_PAGE) if "page" in params else 1
    return ArchiveQuery(
        q=q,
        filters=filters,
        sort=sort,
        page=page,
        limit=limit,
        in_versions=_flag(params, "in_versions"),
        after=params.get("cursor") or None,
    )


def _date(params: QueryParams, name: str) -> date | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: not a date {value!r} (use YYYY-MM-DD)") from None


def _moment(params: QueryParams, name: str) -> datetime | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: not a date or time {value!r} (use YYYY-MM-DD)") from None
    if len(value) == 10:
        moment = datetime.combine(moment.date(), time(), UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _flag(params: QueryParams, name: str) -> bool:
    value = params.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f"{name}: expected 1 or 0, got {value!r}")


def _whole(params: QueryParams, name: str, least: int, most: int) -> int:
    value = params.get(name, "").strip()
    if not value.isdigit() or not least <= int(value) <= most:
        raise BadRequest(f"{name}: expected a whole number from {least} to {most}, got {value!r}")
    return int(value)
