"""Full-text search on SQLite and PostgreSQL: the same cases on both, filters, sorts,
earlier versions, the migration of an existing archive and rebuilding the index."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from storage.db import alembic_config, make_engine, migrate
from storage.fulltext import HIT_END, HIT_START, SearchFilters
from storage.repository import Repository
from storage.search import QueryError
from tests.storage_helpers import DAY, T0, make_item

#: Articles by name: (title, text, published, categories).
CORPUS = {
    "leader": (
        "Kim Jong Un Inspects Nuclear Weapons Institute",
        # The name was in a <span> on the page: the text holds a no-break space and a newline.
        "Respected Comrade\u00a0Kim Jong\nUn inspected the institute. He stressed the need to"
        " bolster the nuclear deterrent.",
        date(2024, 3, 1),
        ("Top News",),
    ),
    "juche": (
        "Seminar on the Juche Idea Held",
        "The seminar, held in Juche 112 (2023), praised the Juche idea as the guiding idea.",
        date(2023, 4, 15),
        ("Juche", "Top News"),
    ),
    "drills": (
        "U.S. War Drills Denounced",
        "The U.S. warmongers staged nuclear war drills near the peninsula, a spokesman said.",
        date(2024, 2, 10),
        ("Commentary",),
    ),
    "peace": (
        "Peace on the Korean Peninsula",
        "A commentary on peace and reunification. The missile launch was a warning to the enemy.",
        date(2022, 8, 5),
        (),
    ),
    "workers": (
        "Meeting of Working People",
        "The \u201cworking people\u201d of the capital met to discuss the harvest.",
        None,
        (),
    ),
}
NAMES = list(CORPUS)

CASES = [
    ("nuclear", {"leader", "drills"}),
    ("Nuclear", {"leader", "drills"}),
    ('"Kim Jong Un"', {"leader"}),
    ("\u201cKim Jong Un\u201d", {"leader"}),
    ('"Comrade Kim Jong Un"', {"leader"}),
    ('"Jong Kim"', set()),
    ("Juche", {"juche"}),
    ('"Juche 112"', {"juche"}),
    ("2023 juche", {"juche"}),
    ("nuclear -war", {"leader"}),
    ('peninsula -"nuclear war"', {"peace"}),
    ("nuclear OR missile", {"leader", "drills", "peace"}),
    ("missile OR reunification peace", {"peace"}),
    ("missil*", {"peace"}),
    ("inspect*", {"leader"}),
    ("inspecting", {"leader"}),
    ("drills denounced", {"drills"}),
    ('"working people"', {"workers"}),
    ("\u201cworking people\u201d", {"workers"}),
    ("harvest -harvest", set()),
    ("zzzunknown", set()),
]


def fill_corpus(repo: Repository) -> dict[str, str]:
    """The corpus stored; the id of each article by name."""
    items = [
        make_item(
            n,
            title=title,
            text=body,
            published=published,
            categories=categories,
            seen_at=T0 + n * DAY,
            source="KCNA Watch" if name == "drills" else "KCNA.kp (En)",
        )
        for n, (name, (title, body, published, categories)) in enumerate(CORPUS.items(), 1)
    ]
    results = repo.articles.save(items)
    return {name: result.article_id for name, result in zip(NAMES, results, strict=True)}


def _found(repo: Repository, ids: dict[str, str], query: str, **options: object) -> set[str]:
    names = {aid: name for name, aid in ids.items()}
    page = repo.search.find(query, **options)  # type: ignore[arg-type]
    return {names[hit.id] for hit in page.hits}


def test_the_same_cases_on_both_databases(repo: Repository) -> None:
    ids = fill_corpus(repo)
    for query, expected in CASES:
        assert _found(repo, ids, query) == expected, query


def test_hits_are_marked_in_snippets(repo: Repository) -> None:
    ids = fill_corpus(repo)
    page = repo.search.find("deterrent")
    assert page.total == 1
    (hit,) = page.hits
    assert hit.id == ids["leader"]
    assert f"{HIT_START}deterrent{HIT_END}" in hit.snippet
    assert "deterrent" in hit.plain_snippet() and HIT_START not in hit.plain_snippet()
    assert hit.title == CORPUS["leader"][0] and hit.version is None


def test_title_ranks_above_text(repo: Repository) -> None:
    ids = fill_corpus(repo)
    hits = repo.search.find("peninsula").hits
    assert [h.id for h in hits] == [ids["peace"], ids["drills"]]


def test_filters(repo: Repository) -> None:
    ids = fill_corpus(repo)

    assert _found(repo, ids, "nuclear OR juche OR peace OR people") == set(NAMES)
    query = "nuclear OR juche OR peace OR people"

    def only(**filters: object) -> set[str]:
        return _found(repo, ids, query, filters=SearchFilters(**filters))  # type: ignore[arg-type]

    assert only(source="KCNA Watch") == {"drills"}
    assert only(category="Top News") == {"leader", "juche"}
    assert only(category="Juche") == {"juche"}
    assert only(category="Top") == set()
    assert only(since=date(2024, 1, 1)) == {"leader", "drills"}
    assert only(until=date(2023, 12, 31)) == {"juche", "peace"}
    assert only(since=date(2023, 1, 1), until=date(2023, 12, 31)) == {"juche"}
    assert only(first_seen_since=T0 + 4 * DAY) == {"peace", "workers"}
    assert only(edited=True) == set()
    assert only(gone=True) == set()
    repo.crawl_state.mark_gone([ids["peace"]], at=T0 + 10 * DAY, reason="HTTP 404")
    assert only(gone=True) == {"peace"}


def test_sorts_and_pages(repo: Repository) -> None:
    ids = fill_corpus(repo)
    query = "nuclear OR juche OR peace OR people"
    by_date = [h.id for h in repo.search.find(query, sort="published").hits]
    assert by_date == [ids[n] for n in ("leader", "drills", "juche", "peace", "workers")]
    by_arrival = [h.id for h in repo.search.find(query, sort="first-seen").hits]
    assert by_arrival == [ids[n] for n in reversed(NAMES)]
    page = repo.search.find(query, sort="published", limit=2, offset=2)
    assert page.total == 5
    assert [h.id for h in page.hits] == by_date[2:4]
    with pytest.raises(ValueError, match="unknown order"):
        repo.search.find(query, sort="title")  # type: ignore[arg-type]


def test_earlier_versions_are_searched_with_in_versions(repo: Repository) -> None:
    ids = fill_corpus(repo)
    title, body, published, _ = CORPUS["peace"]
    edited = body.replace(" The missile launch was a warning to the enemy.", "")
    repo.articles.save(
        [make_item(4, title=title, text=edited, published=published, seen_at=T0 + 9 * DAY)]
    )
    assert _found(repo, ids, "missile") == set()
    page = repo.search.find("missile", in_versions=True)
    assert [(h.id, h.version, h.version_count) for h in page.hits] == [(ids["peace"], 1, 2)]
    assert f"{HIT_START}missile{HIT_END}" in page.hits[0].snippet
    both = repo.search.find("reunification", in_versions=True)
    assert [(h.id, h.version) for h in both.hits] == [(ids["peace"], 2)]
    assert _found(repo, ids, "reunification", filters=SearchFilters(edited=True)) == {"peace"}


def test_malformed_queries_never_reach_the_database(repo: Repository) -> None:
    fill_corpus(repo)
    for query in ('"unclosed', "-only", "OR", "*"):
        with pytest.raises(QueryError):
            repo.search.find(query)
    hostile = "x'); DROP TABLE articles; -- \" NEAR( col: ^ :* & | !"
    assert repo.search.find(hostile + '"').total == 0
    assert repo.articles.count() == len(CORPUS)


def test_the_migration_indexes_an_existing_archive(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0007")
        ids = fill_corpus(Repository(engine))
        migrate(engine)
        repo = Repository(engine)
        assert _found(repo, ids, '"Kim Jong Un"') == {"leader"}
        assert _found(repo, ids, "missile", in_versions=True) == {"peace"}
        assert _vector_storage(engine) in ({"articles": "m", "article_versions": "m"}, {})
    finally:
        engine.dispose()


def _vector_storage(engine: Engine) -> dict[str, str]:
    """PostgreSQL's storage strategy of each search vector column ("m": in the row); empty
    on SQLite."""
    if engine.dialect.name != "postgresql":
        return {}
    query = text(
        "SELECT c.relname, a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE a.attname = 'search_vector' AND c.relkind = 'r'"
        " AND c.relnamespace = to_regnamespace(current_schema())"
    )
    with engine.connect() as connection:
        return {name: str(storage) for name, storage in connection.execute(query)}


def test_reindex_rebuilds_the_index(repo: Repository, engine: Engine) -> None:
    ids = fill_corpus(repo)
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER articles_fts_insert"))
            connection.execute(text("INSERT INTO articles_fts(articles_fts) VALUES('delete-all')"))
        assert _found(repo, ids, "nuclear") == set()
    if engine.dialect.name == "postgresql":  # made again from nothing, in the row
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE articles DROP COLUMN search_vector"))
    assert repo.search.reindex() == (len(CORPUS), len(CORPUS))
    assert _found(repo, ids, "nuclear") == {"leader", "drills"}
    assert _vector_storage(engine) in ({"articles": "m", "article_versions": "m"}, {})
    later = repo.articles.save([make_item(9, title="Nuclear news", text="A new article.")])
    assert later[0].article_id in {h.id for h in repo.search.find("nuclear").hits}


#: Pages whose leader's name was wrapped in markup (a <span>, no-break spaces), one of them
#: stamped with a Juche year, as the crawler parsed them (their expected.json).
PARSED_PAGES = {
    "kuwait": "kcna_q/article_juche_stamp_wrapped_names_nbsp",
    "russia": "kcna_detail/article_listing_hint_wrapped_names_empty_h1",
}
PAGE_CASES = [
    ('"Kim Jong Un"', {"kuwait", "russia"}),
    ('"Comrade Kim Jong Un" Kuwaiti', {"kuwait"}),
    ('"president of the State Affairs"', {"kuwait", "russia"}),
    ('"Kim Jong Un, president"', {"kuwait"}),
    ("Medvedev OR emir", {"kuwait", "russia"}),
    ('"Kim Jong Un" -Medvedev', {"kuwait"}),
    ("neighbor*", {"russia"}),
    ('"Workers\u2019 Party"', {"russia"}),
    ("\u201cWorkers' Party of Korea\u201d", {"russia"}),
]


def test_parsed_pages_with_wrapped_names(repo: Repository) -> None:
    ids = {}
    for n, (name, case) in enumerate(PARSED_PAGES.items(), 1):
        path = Path(__file__).parent / "fixtures" / case / "expected.json"
        record = json.loads(path.read_text(encoding="utf-8"))["record"]
        item = make_item(
            n,
            title=record["title"],
            text=record["text"],
            published=date.fromisoformat(record["published"]),
        )
        ids[name] = repo.articles.save([item])[0].article_id
    for query, expected in PAGE_CASES:
        assert _found(repo, ids, query) == expected, query
