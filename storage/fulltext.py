"""Full-text search of the archive (:class:`Search`), on SQLite FTS5 or PostgreSQL.

A query (see :mod:`storage.search`) finds articles by their current title and text, or with
``in_versions`` by any version's; filters narrow the matches, and a page of them comes back
sorted by relevance (bm25 on SQLite, ``ts_rank_cd`` on PostgreSQL), by publication date or by
first sighting, each with a snippet whose hits are between :data:`HIT_START` and
:data:`HIT_END`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Subquery,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from storage.fulltext_schema import rebuild
from storage.models import ARTICLES, VERSIONS
from storage.search import PG_CONFIG, Query, parse, to_fts5, to_tsquery
from storage.unit import UnitOfWork, dialect_of

#: The marks around a hit in a snippet (control characters: never in stored text).
HIT_START, HIT_END = "\x02", "\x03"
#: How :meth:`Search.find` orders the matches.
SearchSort = Literal["relevance", "published", "first-seen"]
SEARCH_SORTS: tuple[str, ...] = get_args(SearchSort)
#: Words around the hits in a snippet.
SNIPPET_WORDS = 24
_HEADLINE_OPTIONS = (
    f"StartSel={HIT_START}, StopSel={HIT_END}, MaxWords={SNIPPET_WORDS}, MinWords=12,"
    ' MaxFragments=2, FragmentDelimiter=" … "'
)


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
    """One page of matches and how many there are in all."""

    hits: list[SearchHit]
    total: int


class Search(UnitOfWork):
    """Full-text search of the archive."""

    def find(
        self,
        query: str | Query,
        *,
        filters: SearchFilters | None = None,
        sort: SearchSort = "relevance",
        limit: int = 20,
        offset: int = 0,
        in_versions: bool = False,
    ) -> SearchPage:
        """A page of the articles matching ``query`` (a string is parsed: it may raise
        :class:`storage.search.QueryError`)."""
        if sort not in SEARCH_SORTS:
            raise ValueError(f"unknown order {sort!r} (known: {', '.join(SEARCH_SORTS)})")
        parsed = parse(query) if isinstance(query, str) else query
        wanted = filters or SearchFilters()

        def work(session: Session) -> SearchPage:
            sqlite = dialect_of(session) == "sqlite"
            if sqlite:
                matches = _fts5_matches(parsed, in_versions)
            else:
                matches = _pg_matches(parsed, in_versions)
            conditions = _conditions(wanted, sqlite)
            joined = ARTICLES.join(matches, matches.c.article_id == ARTICLES.c.id)
            total = session.execute(
                select(func.count()).select_from(joined).where(*conditions)
            ).scalar_one()
            page = (
                select(*_HIT_COLUMNS, matches.c.version, _snippet(parsed, matches, sqlite))
                .select_from(joined if sqlite else _pg_shown(joined, matches))
                .where(*conditions)
                .order_by(*_order(sort, matches))
                .limit(limit)
                .offset(offset)
            )
            hits = [SearchHit(**row) for row in session.execute(page).mappings()]
            return SearchPage(hits, int(total))

        return self._read(work)

    def reindex(self) -> tuple[int, int]:
        """Rebuild the index from the stored articles; (articles, versions) indexed."""

        def work(session: Session) -> tuple[int, int]:
            rebuild(session.connection())
            articles = session.execute(select(func.count()).select_from(ARTICLES)).scalar_one()
            versions = session.execute(select(func.count()).select_from(VERSIONS)).scalar_one()
            return int(articles), int(versions)

        return self._write(work)


_HIT_COLUMNS = (
    ARTICLES.c.id,
    ARTICLES.c.url,
    ARTICLES.c.source,
    ARTICLES.c.title,
    ARTICLES.c.published,
    ARTICLES.c.first_seen,
    ARTICLES.c.gone_at,
    ARTICLES.c.version_count,
)


def _fts5_matches(query: Query, in_versions: bool) -> Subquery:
    """(article_id, version, rank, snippet) of the matches; lower rank is better."""
    fts = "versions_fts" if in_versions else "articles_fts"
    content = VERSIONS if in_versions else ARTICLES
    index = literal_column(fts)
    matched = (
        select(
            (VERSIONS.c.article_id if in_versions else ARTICLES.c.id).label("article_id"),
            (VERSIONS.c.number if in_versions else cast(null(), Integer)).label("version"),
            func.bm25(index, 10.0, 1.0).label("rank"),
            func.snippet(index, 1, HIT_START, HIT_END, "…", SNIPPET_WORDS).label("snippet"),
        )
        .select_from(content)
        .join(
            table(fts),
            literal_column(f"{fts}.rowid") == literal_column(f"{content.name}.rowid"),
        )
        .where(index.op("MATCH")(bindparam("fts_query", to_fts5(query))))
    )
    if not in_versions:
        return matched.subquery("matches")
    # Materialized: FTS5's functions work only where the full-text query runs.
    inner = matched.cte("version_matches").prefix_with("MATERIALIZED")
    # SQLite takes the bare columns of a min() aggregate from the row holding the minimum.
    best = select(
        inner.c.article_id, inner.c.version, func.min(inner.c.rank).label("rank"), inner.c.snippet
    ).group_by(inner.c.article_id)
    return best.subquery("matches")


def _pg_matches(query: Query, in_versions: bool) -> Subquery:
    """(article_id, version, rank) of the matches; lower rank is better."""
    content = VERSIONS if in_versions else ARTICLES
    vector = literal_column(f"{content.name}.search_vector")
    tsquery = to_tsquery(query)
    rank = (-func.ts_rank_cd(vector, tsquery)).label("rank")
    if not in_versions:
        return (
            select(ARTICLES.c.id.label("article_id"), cast(null(), Integer).label("version"), rank)
            .where(vector.op("@@")(tsquery))
            .subquery("matches")
        )
    pick = func.row_number().over(
        partition_by=VERSIONS.c.article_id, order_by=(rank, VERSIONS.c.number.desc())
    )
    ranked = (
        select(VERSIONS.c.article_id, VERSIONS.c.number.label("version"), rank, pick.label("pick"))
        .where(vector.op("@@")(tsquery))
        .subquery("version_matches")
    )
    best = select(ranked.c.article_id, ranked.c.version, ranked.c.rank).where(ranked.c.pick == 1)
    return best.subquery("matches")


#: The version whose text a PostgreSQL snippet shows (``in_versions``: the one matched).
_SHOWN = VERSIONS.alias("shown")


def _pg_shown(joined: Any, matches: Subquery) -> Any:
    return joined.outerjoin(
        _SHOWN,
        (_SHOWN.c.article_id == matches.c.article_id) & (_SHOWN.c.number == matches.c.version),
    )


def _snippet(query: Query, matches: Subquery, sqlite: bool) -> ColumnElement[Any]:
    if sqlite:
        return matches.c.snippet.label("snippet")
    text = func.coalesce(_SHOWN.c.text, ARTICLES.c.text)
    config = literal_column(f"'{PG_CONFIG}'::regconfig")
    options = bindparam("headline_options", _HEADLINE_OPTIONS)
    return func.ts_headline(config, text, to_tsquery(query), options).label("snippet")


def _conditions(wanted: SearchFilters, sqlite: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.source is not None:
        conditions.append(ARTICLES.c.source == wanted.source)
    if wanted.category is not None:
        conditions.append(_in_category(wanted.category, sqlite))
    if wanted.since is not None:
        conditions.append(ARTICLES.c.published >= wanted.since)
    if wanted.until is not None:
        conditions.append(ARTICLES.c.published <= wanted.until)
    if wanted.first_seen_since is not None:
        conditions.append(ARTICLES.c.first_seen >= wanted.first_seen_since)
    if wanted.edited:
        conditions.append(ARTICLES.c.version_count > 1)
    if wanted.gone:
        conditions.append(ARTICLES.c.gone_at.is_not(None))
    return conditions


def _in_category(category: str, sqlite: bool) -> ColumnElement[bool]:
    if sqlite:
        each = func.json_each(ARTICLES.c.categories).table_valued("value")
        return select(literal(1)).select_from(each).where(each.c.value == category).exists()
    return cast(ARTICLES.c.categories, JSONB).contains(cast(literal([category], JSON), JSONB))


def _order(sort: str, matches: Subquery) -> tuple[Any, ...]:
    newest = (
        ARTICLES.c.published.desc().nulls_last(),
        ARTICLES.c.first_seen.desc(),
        ARTICLES.c.id.desc(),
    )
    if sort == "relevance":
        return (matches.c.rank, *newest)
    if sort == "first-seen":
        return (ARTICLES.c.first_seen.desc(), ARTICLES.c.id.desc())
    return newest
