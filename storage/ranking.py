"""Relevance order within bounds: how :meth:`storage.fulltext.Search.find` ranks and counts the
current content of the archive without reading every match of a broad query.

A word like "Pyongyang" is in nearly every article. Ranking all its matches before the first
page costs time in proportion to the archive (FTS5's bm25 or PostgreSQL's ``ts_rank_cd`` per
match), and so does counting them exactly. Search engines bound both, and so does this module:

- **Ranking** reads the :data:`RANK_LIMIT` most recently stored matches (newest first: SQLite
  reads the index's rowids backwards, PostgreSQL walks ``first_seen``), ranks them, and pages
  through them in relevance order (ties: the most recently stored first). A query with fewer
  matches is ranked whole; with more, the page says how many were ranked
  (:attr:`storage.paging.SearchPage.ranked_among`), and the date orders page through every
  match. Web search engines and GitHub's search API bound a query's results the same way.
- **Counting** stops there too: past it a page's count is a lower bound
  (:attr:`storage.paging.SearchPage.total_exact` is False: "more than 1,000"). The counts by
  source and by month (:meth:`storage.fulltext.Search.facets`) stay exact.

The filters are applied before the bound, so a narrow filter still ranks all of its matches:
on SQLite the filters that an index answers (source, publication and first-seen dates) pick
the articles first (``rowid IN``, read from the index), the others are checked on each match's
row as the matches are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    func,
    literal_column,
    select,
    table,
    tuple_,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from storage.models import ARTICLES
from storage.paging import (
    HIT_COLUMNS,
    HIT_END,
    HIT_START,
    SNIPPET_WORDS,
    SearchFilters,
    conditions,
)
from storage.search import PG_CONFIG, AnyOf, Phrase, Query, to_fts5, to_tsquery

#: Matches ranked for relevance order (the most recently stored) and counted exactly.
RANK_LIMIT = 1000
#: How PostgreSQL's snippets are cut (``ts_headline``'s options).
HEADLINE_OPTIONS = (
    f"StartSel={HIT_START}, StopSel={HIT_END}, MaxWords={SNIPPET_WORDS}, MinWords=12,"
    ' MaxFragments=2, FragmentDelimiter=" … "'
)


@dataclass(frozen=True)
class Ranked:
    """The matches ranked for a relevance page: their keys, best first (the FTS5 rowid on
    SQLite, the article id on PostgreSQL), and whether there are more matches than were read."""

    keys: list[Any]
    more: bool


def _fts_match(query: Query) -> ColumnElement[bool]:
    return literal_column("articles_fts").op("MATCH")(bindparam("fts_query", to_fts5(query)))


_FTS_ROWID = literal_column("articles_fts.rowid")
#: The same, unary "+" before it: SQLite then filters the rows FTS5 reads, in its own order,
#: instead of asking FTS5 for each rowid of an ``IN`` list (one index lookup each).
_FTS_ROWID_READ = UnaryExpression(_FTS_ROWID, operator=custom_op("+"))
_ARTICLE_ROWID = literal_column("articles.rowid")


def _indexed(wanted: SearchFilters) -> bool:
    """Whether one of ``wanted``'s filters is answered by an index of ``articles``."""
    return any(
        value is not None
        for value in (wanted.source, wanted.since, wanted.until, wanted.first_seen_since)
    )


def _sqlite_matches(query: Query, wanted: SearchFilters, *columns: Any) -> Select[Any]:
    """``columns`` of the current content's matches passing ``wanted``, on SQLite."""
    statement = select(*columns).select_from(table("articles_fts")).where(_fts_match(query))
    where = conditions(wanted, sqlite=True)
    if not where:
        return statement
    if _indexed(wanted):
        # The filtered articles' rowids come from an index, and the matches are checked
        # against them as FTS5 reads them.
        chosen = select(_ARTICLE_ROWID).select_from(ARTICLES).where(*where)
        return statement.where(_FTS_ROWID_READ.in_(chosen.scalar_subquery()))
    return statement.join(ARTICLES, _ARTICLE_ROWID == _FTS_ROWID).where(*where)


def _pg_matches(query: Query, wanted: SearchFilters, *columns: Any) -> Select[Any]:
    vector = literal_column(f"{ARTICLES.name}.search_vector")
    where = conditions(wanted, sqlite=False)
    matched = vector.op("@@")(to_tsquery(query))
    return select(*columns).select_from(ARTICLES).where(matched, *where)


def ranked(
    session: Session, query: Query, wanted: SearchFilters, sqlite: bool, limit: int
) -> Ranked:
    """The most recently stored ``limit`` matches of ``query`` passing ``wanted``, ranked."""
    if sqlite:
        rank = func.bm25(literal_column("articles_fts"), 10.0, 1.0)
        newest = (
            _sqlite_matches(query, wanted, _FTS_ROWID.label("key"), rank.label("rank"))
            .order_by(_FTS_ROWID.desc())
            .limit(limit + 1)
        )
        rows = session.execute(newest).all()
        order = sorted(rows[:limit], key=lambda row: row.rank)  # lower is better
    else:
        rows = []
        recent = _recent(session, limit) if _has_phrase(query) else None
        if recent is not None:
            rows = _pg_newest(session, query, wanted, limit, recent)
        if len(rows) <= limit:  # not enough among the recent articles: all of them
            rows = _pg_newest(session, query, wanted, limit)
        order = sorted(rows[:limit], key=lambda row: -row.rank)  # higher is better
    return Ranked([row.key for row in order], more=len(rows) > limit)


#: Articles, per match ranked, that a phrase is first looked for among (the most recent).
RECENT_PER_MATCH = 20


def _has_phrase(query: Query) -> bool:
    atoms = [*query.required, *query.excluded]
    options = [o for a in atoms for o in (a.options if isinstance(a, AnyOf) else (a,))]
    return any(isinstance(option, Phrase) for option in options)


def _recent(session: Session, limit: int) -> ColumnElement[bool] | None:
    """The condition "among the ``RECENT_PER_MATCH × limit`` most recently stored articles"
    (None when the archive has no more than those)."""
    key = (ARTICLES.c.first_seen, ARTICLES.c.id)
    last = session.execute(
        select(*key)
        .order_by(*(column.desc() for column in key))
        .offset(RECENT_PER_MATCH * limit - 1)
        .limit(1)
    ).first()
    return None if last is None else tuple_(*key) >= tuple_(*last)


def _pg_newest(
    session: Session,
    query: Query,
    wanted: SearchFilters,
    limit: int,
    recent: ColumnElement[bool] | None = None,
) -> list[Any]:
    """(key, rank) of the newest ``limit`` + 1 matches on PostgreSQL, ``recent`` ones only
    if given.

    A phrase is checked on each candidate row's vector (the GIN index holds no positions),
    and the planner, which takes a phrase's words as independent, may guess a common phrase
    rare ("General Secretary Kim Jong Un": 4,400 articles for 14,600) and check all 41,000
    articles with its words instead of walking the newest until enough are found (160 ms
    against 14 ms at 200,000 articles). So a phrase is looked for among the recent articles
    first, and in the whole archive only when those hold too few."""
    vector = literal_column(f"{ARTICLES.name}.search_vector")
    newest = _pg_matches(query, wanted, ARTICLES.c.id, vector.label("vector"))
    if recent is not None:
        newest = newest.where(recent)
    read = (
        newest.order_by(ARTICLES.c.first_seen.desc(), ARTICLES.c.id.desc())
        .limit(limit + 1)
        .subquery("newest")
    )
    # Ranked outside the LIMIT: only the rows read are ranked.
    rank = func.ts_rank_cd(read.c.vector, to_tsquery(query))
    return list(session.execute(select(read.c.id.label("key"), rank.label("rank"))).all())


def counted(session: Session, query: Query, wanted: SearchFilters, sqlite: bool, limit: int) -> int:
    """How many matches of ``query`` pass ``wanted``, counted up to ``limit`` + 1."""
    one = literal_column("1")
    matches = _sqlite_matches(query, wanted, one) if sqlite else _pg_matches(query, wanted, one)
    found = matches.limit(limit + 1).subquery("found")
    return int(session.execute(select(func.count()).select_from(found)).scalar_one())


def headline(query: Query, text: ColumnElement[str]) -> ColumnElement[str]:
    """PostgreSQL's snippet of ``text``: its hits marked, a few words around them."""
    config = literal_column(f"'{PG_CONFIG}'::regconfig")
    options = bindparam("headline_options", HEADLINE_OPTIONS)
    return func.ts_headline(config, text, to_tsquery(query), options)


def hits_of(session: Session, query: Query, keys: list[Any], sqlite: bool) -> list[dict[str, Any]]:
    """The hit columns and snippets of the matches ``keys`` (from :func:`ranked`), in that
    order (``version`` None: the current content)."""
    if not keys:
        return []
    if sqlite:
        index = literal_column("articles_fts")
        snippet = func.snippet(index, 1, HIT_START, HIT_END, "…", SNIPPET_WORDS)
        marked = select(_FTS_ROWID.label("key"), snippet.label("snippet"))
        marked = marked.select_from(table("articles_fts"))
        # Read in the index's order, not looked up one by one (each lookup of a common
        # phrase reads its words' positions again: 20 ms against 3 ms for a page).
        marked = marked.where(_fts_match(query), _FTS_ROWID_READ.in_(keys))
        marked = marked.order_by(_FTS_ROWID.desc()).limit(len(keys))
        snippets = {row.key: row.snippet for row in session.execute(marked)}
        columns = select(_ARTICLE_ROWID.label("key"), *HIT_COLUMNS)
        rows = session.execute(columns.where(_ARTICLE_ROWID.in_(keys))).mappings()
        found = {row["key"]: {**row, "snippet": snippets.get(row["key"], "")} for row in rows}
    else:
        snippet = headline(query, ARTICLES.c.text).label("snippet")
        columns = select(ARTICLES.c.id.label("key"), *HIT_COLUMNS, snippet)
        rows = session.execute(columns.where(ARTICLES.c.id.in_(keys))).mappings()
        found = {row["key"]: dict(row) for row in rows}
    hits = []
    for key in keys:
        row = found.get(key)
        if row is not None:  # an article deleted since it was ranked is left out
            del row["key"]
            hits.append({**row, "version": None})
    return hits
