"""Reading the archive without a query, counting it by source and month, and paging by cursor
on SQLite and PostgreSQL: newest first, undated last, stable while articles arrive."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, Select, select, text

from storage.db import make_engine
from storage.fulltext import SNIPPET_WORDS, CursorError, SearchFilters, SearchPage
from storage.paging import HIT_COLUMNS, after_key, order
from storage.repository import Repository
from storage.search import QueryError
from tests.storage_helpers import DAY, T0, make_item
from tests.test_search_db import CORPUS, NAMES, fill_corpus

BY_DATE = ["leader", "drills", "juche", "peace", "workers"]
EVERYTHING = "nuclear OR juche OR peace OR people"


def _names(ids: dict[str, str], page: SearchPage) -> list[str]:
    names = {aid: name for name, aid in ids.items()}
    return [names[hit.id] for hit in page.hits]


def test_browse_is_newest_first_with_the_opening_words(repo: Repository) -> None:
    ids = fill_corpus(repo)
    page = repo.search.browse()
    assert _names(ids, page) == BY_DATE
    assert page.total == len(CORPUS) and page.next_cursor is None
    by_arrival = repo.search.browse(sort="first-seen")
    assert _names(ids, by_arrival) == list(reversed(NAMES))
    leader = page.hits[0]
    assert leader.version is None and leader.title == CORPUS["leader"][0]
    assert leader.snippet == " ".join(CORPUS["leader"][1].split())
    assert "\x02" not in "".join(h.snippet for h in page.hits)
    words = [f"word{n}" for n in range(400)]
    long = make_item(9, text="\n".join(words), published=date(2025, 1, 1))
    repo.articles.save([long])
    (hit,) = repo.search.browse(limit=1).hits
    assert hit.snippet == " ".join(words[:SNIPPET_WORDS]) + " …"
    assert _names(ids, repo.search.browse(limit=2, offset=3)) == BY_DATE[2:4]
    with pytest.raises(ValueError, match="unknown order"):
        repo.search.browse(sort="relevance")  # type: ignore[arg-type]


def test_browse_filters_and_count(repo: Repository) -> None:
    ids = fill_corpus(repo)

    def only(**filters: object) -> list[str]:
        wanted = SearchFilters(**filters)  # type: ignore[arg-type]
        page = repo.search.browse(filters=wanted)
        assert page.total == repo.search.count(wanted) == len(page.hits)
        return _names(ids, page)

    assert only(source="KCNA Watch") == ["drills"]
    assert only(category="Top News") == ["leader", "juche"]
    assert only(since=date(2023, 1, 1), until=date(2023, 12, 31)) == ["juche"]
    assert only(first_seen_since=T0 + 4 * DAY) == ["peace", "workers"]
    assert only(edited=True) == []
    repo.crawl_state.mark_gone([ids["peace"]], at=T0 + 10 * DAY, reason="HTTP 404")
    assert only(gone=True) == ["peace"]
    assert repo.search.count() == len(CORPUS)


def _crowd(repo: Repository) -> list[str]:
    """Ten articles sharing dates and sightings (stored in batches), three undated; their
    ids in the archive's order by publication date."""
    dates = [date(2024, 5, 1)] * 4 + [date(2024, 4, 1)] * 3 + [None] * 3
    items = [
        make_item(n, published=day, seen_at=T0 + (n % 2) * DAY, source="KCNA.kp (En)")
        for n, day in enumerate(dates, 1)
    ]
    repo.articles.save(items[:5])
    repo.articles.save(items[5:])
    return [hit.id for hit in repo.search.browse(limit=100).hits]


def _walk(read: object, limit: int, **options: object) -> list[str]:
    """Every id, page by page through ``next_cursor``."""
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        page = read(limit=limit, after=cursor, **options)  # type: ignore[operator]
        seen += [hit.id for hit in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            return seen
        assert isinstance(cursor, str) and cursor.isascii() and "=" not in cursor
    raise AssertionError("the cursor never ended")


def test_cursor_pages_visit_every_article_once_in_order(repo: Repository) -> None:
    everything = _crowd(repo)
    assert len(everything) == 10
    by_arrival = [h.id for h in repo.search.browse(sort="first-seen", limit=100).hits]
    for limit in (1, 3, 4, 10):
        assert _walk(repo.search.browse, limit) == everything, limit
        assert _walk(repo.search.browse, limit, sort="first-seen") == by_arrival, limit
    assert repo.search.browse(limit=10).next_cursor is None
    assert repo.search.browse(limit=9).next_cursor is not None


def test_find_pages_by_cursor_in_every_order(repo: Repository) -> None:
    _crowd(repo)
    for sort in ("relevance", "published", "first-seen"):
        whole = [h.id for h in repo.search.find("working", sort=sort, limit=100).hits]
        assert len(whole) == 10
        assert _walk(repo.search.find, 3, query="working", sort=sort) == whole, sort


def test_cursor_pages_stay_put_while_articles_arrive(repo: Repository) -> None:
    ids = fill_corpus(repo)
    first = repo.search.browse(limit=2)
    assert _names(ids, first) == BY_DATE[:2]
    newer = make_item(20, published=date(2025, 1, 1), seen_at=T0 + 20 * DAY)
    repo.articles.save([newer])
    following = repo.search.browse(limit=2, after=first.next_cursor)
    assert _names(ids, following) == BY_DATE[2:4]
    assert following.total == len(CORPUS) + 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor!",
        "%%%%",
        _b64(b"[1, 2]"),
        _b64(b'{"sort": "published"}'),
        _b64(b'{"sort": "published", "id": 7, "first_seen": "x", "published": null}'),
        _b64(b'{"sort": "published", "id": "a", "first_seen": "never", "published": null}'),
        _b64(b'{"sort": "relevance", "offset": -1}'),
        _b64(b"\xff\xfe"),
    ],
)
def test_a_malformed_cursor_is_a_clear_error(repo: Repository, cursor: str) -> None:
    fill_corpus(repo)
    with pytest.raises(CursorError, match="cursor") as raised:
        repo.search.browse(after=cursor)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, QueryError)


def test_a_cursor_of_another_order_is_refused(repo: Repository) -> None:
    fill_corpus(repo)
    cursor = repo.search.browse(limit=1, sort="first-seen").next_cursor
    assert cursor is not None
    with pytest.raises(CursorError, match="sorted by 'first-seen'"):
        repo.search.browse(after=cursor)
    with pytest.raises(CursorError):
        repo.search.find(EVERYTHING, sort="relevance", after=cursor)


def test_facets_of_the_archive_and_of_a_query(repo: Repository) -> None:
    ids = fill_corpus(repo)
    facets = repo.search.facets()
    assert facets.by_source == {"KCNA.kp (En)": 4, "KCNA Watch": 1}
    assert list(facets.by_source) == ["KCNA.kp (En)", "KCNA Watch"]
    assert facets.by_month == [
        ("2024-03", 1),
        ("2024-02", 1),
        ("2023-04", 1),
        ("2022-08", 1),
        ("undated", 1),
    ]
    nuclear = repo.search.facets("nuclear")
    assert nuclear.by_source == {"KCNA.kp (En)": 1, "KCNA Watch": 1}
    assert nuclear.by_month == [("2024-03", 1), ("2024-02", 1)]
    narrowed = repo.search.facets("nuclear", filters=SearchFilters(source="KCNA Watch"))
    assert narrowed.by_source == {"KCNA Watch": 1} and narrowed.by_month == [("2024-02", 1)]
    assert repo.search.facets("zzzunknown").by_month == []
    title, body, published, _ = CORPUS["peace"]
    edited = body.replace(" The missile launch was a warning to the enemy.", "")
    repo.articles.save(
        [make_item(4, title=title, text=edited, published=published, seen_at=T0 + 9 * DAY)]
    )
    assert repo.search.facets("missile").by_source == {}
    assert repo.search.facets("missile", in_versions=True).by_month == [("2022-08", 1)]
    assert ids  # the corpus was stored


def _plan(engine: Engine, statement: Select[Any]) -> str:
    sql = statement.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        return " ".join(row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}")))


@pytest.mark.parametrize(
    ("sort", "index"),
    [("published", "ix_articles_newest"), ("first-seen", "ix_articles_first_seen_id")],
)
def test_pages_are_read_from_an_index_in_order(migrated_sqlite: str, sort: str, index: str) -> None:
    """The ORDER BY and the cursor's range are spelled as the index is: a page is a seek in
    it, never a sort of the whole archive (SQLite's plan; PostgreSQL's planner weighs the
    table's size, so a tiny test table tells nothing there)."""
    engine = make_engine(migrated_sqlite)
    first = select(*HIT_COLUMNS).order_by(*order(sort)).limit(21)
    later = first.where(after_key(sort, {"published": None, "first_seen": T0, "id": "x"}))
    try:
        assert _plan(engine, first) == f"SCAN articles USING INDEX {index}"
        assert _plan(engine, later).startswith(f"SEARCH articles USING INDEX {index} (")
    finally:
        engine.dispose()
