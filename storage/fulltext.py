"""Full-text search of the archive (:class:`Search`), on SQLite FTS5 or PostgreSQL.

A query (see :mod:`storage.search`) finds articles by their current title and text, or with
``in_versions`` by any version's; filters narrow the matches, and a page of them comes back
sorted by relevance (bm25 on SQLite, ``ts_rank_cd`` on PostgreSQL), by publication date or by
first sighting, each with a snippet whose hits are between :data:`HIT_START` and
:data:`HIT_END`. Relevance order ranks, and a page counts, a broad query's matches within
bounds (:mod:`storage.ranking`). Without a query, :meth:`Search.browse` pages through the
archive with the same filters and :meth:`Search.facets` counts it by source and month. Pages
continue by cursor (:mod:`storage.paging`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    RowMapping,
    Select,
    Subquery,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    table,
)
from sqlalchemy.orm import Session

from storage.fulltext_schema import rebuild
from storage.models import ARTICLES, VERSIONS
from storage.paging import (
    BROWSE_SORTS,
    HIT_COLUMNS,
    HIT_END,
    HIT_START,
    SEARCH_SORTS,
    SNIPPET_WORDS,
    UNDATED,
    BrowseSort,
    CursorError,
    Facets,
    SearchFilters,
    SearchHit,
    SearchPage,
    SearchSort,
    after_key,
    check_sort,
    conditions,
    cursor_after,
    opening,
    order,
    read_cursor,
)
from storage.ranking import RANK_LIMIT, counted, headline, hits_of, ranked
from storage.search import Query, parse, to_fts5, to_tsquery
from storage.unit import UnitOfWork, dialect_of

__all__ = [
    "HIT_END",
    "HIT_START",
    "RANK_LIMIT",
    "SEARCH_SORTS",
    "SNIPPET_WORDS",
    "CursorError",
    "Facets",
    "Search",
    "SearchFilters",
    "SearchHit",
    "SearchPage",
]


class Search(UnitOfWork):
    """Full-text search of the archive, and the archive read without a query.

    A query's page ranks at most :attr:`rank_limit` matches in relevance order and counts
    them up to it (:mod:`storage.ranking`)."""

    rank_limit: int = RANK_LIMIT

    def find(
        self,
        query: str | Query,
        *,
        filters: SearchFilters | None = None,
        sort: SearchSort = "relevance",
        limit: int = 20,
        offset: int = 0,
        in_versions: bool = False,
        after: str | None = None,
    ) -> SearchPage:
        """A page of the articles matching ``query`` (a string is parsed: it may raise
        :class:`storage.search.QueryError`), after the ``after`` cursor of the previous page
        if given (:class:`storage.paging.CursorError` if it is not one), then ``offset``."""
        check_sort(sort, SEARCH_SORTS)
        parsed = parse(query) if isinstance(query, str) else query
        wanted = filters or SearchFilters()
        key = read_cursor(after, sort) if after is not None else None

        def work(session: Session) -> SearchPage:
            sqlite = dialect_of(session) == "sqlite"
            if sort == "relevance" and not in_versions:
                page = (limit, offset, key)
                return _relevance_page(session, parsed, wanted, sqlite, self.rank_limit, page)
            matches = _matches(parsed, in_versions, sqlite)
            where = conditions(wanted, sqlite)
            joined = _joined(matches)
            statement = (
                select(*HIT_COLUMNS, matches.c.version, _snippet(parsed, matches, sqlite))
                .select_from(joined if sqlite else _pg_shown(joined, matches))
                .where(*where)
                .order_by(*order(sort, matches.c.rank))
            )
            rows, cursor = _page(session, statement, sort, limit, offset, key)
            hits = [SearchHit(**row) for row in rows]
            if in_versions:
                found, matched = _found(parsed, in_versions, sqlite)
                return SearchPage(hits, _count(session, found, [*matched, *where]), cursor)
            count = counted(session, parsed, wanted, sqlite, self.rank_limit)
            exact = count <= self.rank_limit
            return SearchPage(hits, min(count, self.rank_limit), cursor, total_exact=exact)

        return self._read(work)

    def browse(
        self,
        *,
        filters: SearchFilters | None = None,
        sort: BrowseSort = "published",
        limit: int = 20,
        offset: int = 0,
        after: str | None = None,
    ) -> SearchPage:
        """A page of the archive without a query, newest first (undated articles last when
        by ``published``), after the ``after`` cursor if given, then ``offset``; each hit's
        snippet is the start of its text, unmarked, and its ``version`` None."""
        check_sort(sort, BROWSE_SORTS)
        wanted = filters or SearchFilters()
        key = read_cursor(after, sort) if after is not None else None

        def work(session: Session) -> SearchPage:
            where = conditions(wanted, dialect_of(session) == "sqlite")
            start = func.substr(ARTICLES.c.text, 1, _OPENING_CHARS).label("opening")
            statement = select(*HIT_COLUMNS, start).where(*where).order_by(*order(sort))
            rows, cursor = _page(session, statement, sort, limit, offset, key)
            hits = [_opening_hit(row) for row in rows]
            return SearchPage(hits, _count(session, ARTICLES, where), cursor)

        return self._read(work)

    def count(self, filters: SearchFilters | None = None) -> int:
        """How many articles pass ``filters`` (all of them without)."""
        wanted = filters or SearchFilters()

        def work(session: Session) -> int:
            where = conditions(wanted, dialect_of(session) == "sqlite")
            return _count(session, ARTICLES, where)

        return self._read(work)

    def facets(
        self,
        query: str | Query | None = None,
        *,
        filters: SearchFilters | None = None,
        in_versions: bool = False,
    ) -> Facets:
        """How many articles match ``query`` (or pass ``filters``, without one) by source
        and by month of publication."""
        parsed = parse(query) if isinstance(query, str) else query
        wanted = filters or SearchFilters()

        def work(session: Session) -> Facets:
            sqlite = dialect_of(session) == "sqlite"
            where = conditions(wanted, sqlite)
            found: Any = ARTICLES
            if parsed is not None:
                found, matched = _found(parsed, in_versions, sqlite)
                where = [*matched, *where]
            return _facets(session, found, where, _month(sqlite))

        return self._read(work)

    def reindex(self) -> tuple[int, int]:
        """Rebuild the index from the stored articles; (articles, versions) indexed."""

        def work(session: Session) -> tuple[int, int]:
            rebuild(session.connection())
            articles = session.execute(select(func.count()).select_from(ARTICLES)).scalar_one()
            versions = session.execute(select(func.count()).select_from(VERSIONS)).scalar_one()
            return int(articles), int(versions)

        return self._write(work)


def _relevance_page(
    session: Session,
    query: Query,
    wanted: SearchFilters,
    sqlite: bool,
    rank_limit: int,
    page: tuple[int, int, dict[str, Any] | None],
) -> SearchPage:
    """A page (limit, offset, cursor key) of the current content's matches in relevance
    order, the ``rank_limit`` most recently stored ranked (:mod:`storage.ranking`)."""
    limit, offset, key = page
    found = ranked(session, query, wanted, sqlite, rank_limit)
    start = offset + (key["offset"] if key is not None else 0)
    shown = found.keys[start : start + limit]
    hits = [SearchHit(**row) for row in hits_of(session, query, shown, sqlite)]
    more = start + len(shown) < len(found.keys) and bool(shown)
    cursor = cursor_after("relevance", {}, start + len(shown)) if more else None
    if not found.more:  # every match was read and ranked: the count is exact
        return SearchPage(hits, len(found.keys), cursor)
    return SearchPage(hits, rank_limit, cursor, total_exact=False, ranked_among=rank_limit)


#: Characters of a text read for its opening words when browsing.
_OPENING_CHARS = 1000


def _page(
    session: Session,
    statement: Select[Any],
    sort: str,
    limit: int,
    offset: int,
    key: dict[str, Any] | None,
) -> tuple[list[RowMapping], str | None]:
    """The rows of one page of ``statement`` (ordered by ``sort``), after ``key`` (a
    cursor's) and ``offset``, and the cursor of the next page (None on the last)."""
    start = offset
    if key is not None and sort == "relevance":
        start += key["offset"]
    elif key is not None:
        statement = statement.where(after_key(sort, key))
    rows = list(session.execute(statement.limit(limit + 1).offset(start)).mappings())
    shown = rows[:limit]
    more = len(rows) > limit and bool(shown)
    return shown, cursor_after(sort, shown[-1], start + len(shown)) if more else None


def _count(session: Session, found: Any, where: list[ColumnElement[bool]]) -> int:
    return int(session.execute(select(func.count()).select_from(found).where(*where)).scalar_one())


def _opening_hit(row: RowMapping) -> SearchHit:
    text = row["opening"]
    if len(text) >= _OPENING_CHARS:  # cut short: its last word may be part of one
        text = text.rsplit(None, 1)[0] + " …"
    columns = {column.name: row[column.name] for column in HIT_COLUMNS}
    return SearchHit(**columns, version=None, snippet=opening(text))


def _month(sqlite: bool) -> ColumnElement[str]:
    """The "YYYY-MM" of an article's publication date (NULL when it has none)."""
    if sqlite:
        return func.strftime(literal_column("'%Y-%m'"), ARTICLES.c.published)
    return func.to_char(ARTICLES.c.published, literal_column("'YYYY-MM'"))


def _facets(
    session: Session, found: Any, where: list[ColumnElement[bool]], month: ColumnElement[str]
) -> Facets:
    counted = func.count().label("n")
    sources = session.execute(
        select(ARTICLES.c.source, counted)
        .select_from(found)
        .where(*where)
        .group_by(ARTICLES.c.source)
    ).all()
    months = session.execute(
        select(month.label("month"), counted).select_from(found).where(*where).group_by(month)
    ).all()
    by_source = dict(sorted(((s, int(n)) for s, n in sources), key=lambda p: (-p[1], p[0])))
    dated = sorted(((m, int(n)) for m, n in months if m is not None), reverse=True)
    undated = [(UNDATED, int(n)) for m, n in months if m is None]
    return Facets(by_source, dated + undated)


def _matches(query: Query, in_versions: bool, sqlite: bool) -> Subquery:
    if sqlite:
        return _fts5_matches(query, in_versions)
    return _pg_matches(query, in_versions)


def _joined(matches: Subquery) -> Any:
    """``articles`` joined with its ``matches``: by rowid to the FTS5 index's own rows (the
    current content on SQLite), else by article id."""
    if "fts_rowid" in matches.c:
        return ARTICLES.join(matches, matches.c.fts_rowid == literal_column("articles.rowid"))
    return ARTICLES.join(matches, matches.c.article_id == ARTICLES.c.id)


def _found(query: Query, in_versions: bool, sqlite: bool) -> tuple[Any, list[Any]]:
    """What counting the matches reads (joined to ``articles``), and the conditions of the
    match.

    A common word matches most of the archive, so counting reads as little per match as it
    can: the current content is matched on the FTS5 index alone and joined to ``articles``
    by rowid, once (SQLite), or on ``articles`` alone (PostgreSQL: one scan, not a join of
    ``articles`` to itself)."""
    if in_versions:
        return _joined(_matches(query, in_versions, sqlite)), []
    if not sqlite:
        vector = literal_column(f"{ARTICLES.name}.search_vector")
        return ARTICLES, [vector.op("@@")(to_tsquery(query))]
    match = literal_column("articles_fts").op("MATCH")(bindparam("fts_query", to_fts5(query)))
    index = select(literal_column("articles_fts.rowid").label("fts_rowid"))
    found = index.select_from(table("articles_fts")).where(match).subquery("found")
    # Every article has its row in the index (kept in step by triggers).
    return _joined(found), []


def _fts5_matches(query: Query, in_versions: bool) -> Subquery:
    """(article_id or, for the current content, the index's rowid; version, rank, snippet)
    of the matches; lower rank is better."""
    fts = "versions_fts" if in_versions else "articles_fts"
    index = literal_column(fts)
    ranked = (
        func.bm25(index, 10.0, 1.0).label("rank"),
        func.snippet(index, 1, HIT_START, HIT_END, "…", SNIPPET_WORDS).label("snippet"),
    )
    match = index.op("MATCH")(bindparam("fts_query", to_fts5(query)))
    if not in_versions:
        # The index alone: the page joins articles by rowid, once per match (see _joined).
        rowid = literal_column(f"{fts}.rowid").label("fts_rowid")
        current = select(rowid, cast(null(), Integer).label("version"), *ranked)
        return current.select_from(table(fts)).where(match).subquery("matches")
    matched = (
        select(VERSIONS.c.article_id, VERSIONS.c.number.label("version"), *ranked)
        .select_from(VERSIONS)
        .join(
            table(fts), literal_column(f"{fts}.rowid") == literal_column("article_versions.rowid")
        )
        .where(match)
    )
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
    return headline(query, func.coalesce(_SHOWN.c.text, ARTICLES.c.text)).label("snippet")
