"""A broad query's bounds (storage.ranking): relevance order ranks the most recently stored
matches up to the limit and says so, counts stop there and say "more than", the date orders
still reach every match, filters apply before the bound; on SQLite and PostgreSQL, and as the
command line, the API and the search page show it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from scheduler.web.app import create_app
from scheduler.web.server import WebServer
from storage.db import make_engine
from storage.fulltext import SearchFilters
from storage.ranking import RANK_LIMIT, RECENT_PER_MATCH
from storage.repository import Repository
from tests.cli_helpers import run_main
from tests.monitor_helpers import Clock
from tests.pages_helpers import web_context
from tests.storage_helpers import DAY, HOUR, T0, make_item

#: Articles that all mention the harvest, stored one a day (the last is the newest stored);
#: each one's text says "harvest" as many times as its number, so relevance differs.
ARTICLES = 7


def store(repo: Repository, count: int = ARTICLES) -> list[str]:
    """``count`` harvest articles, stored in the order of their numbers; their ids."""
    ids = []
    for n in range(1, count + 1):
        item = make_item(
            n,
            title=f"Report {n} from the farms",
            text="The harvest " + " ".join(["harvest"] * n) + f" of farm {n}.",
            published=date(2024, 1, 1 + n % 28),
            seen_at=T0 + n * DAY,
            source="KCNA Watch" if n % 2 else "KCNA.kp (En)",
        )
        ids.extend(result.article_id for result in repo.articles.save([item]))
    return ids


def all_pages(repo: Repository, sort: str, limit: int = 2) -> list[str]:
    """Every hit of "harvest" in ``sort`` order, page after page by cursor."""
    found, after = [], None
    while True:
        page = repo.search.find("harvest", sort=sort, limit=limit, after=after)  # type: ignore[arg-type]
        found += [hit.id for hit in page.hits]
        if page.next_cursor is None:
            return found
        after = page.next_cursor


def test_a_query_within_the_limit_is_ranked_and_counted_whole(repo: Repository) -> None:
    ids = store(repo)
    page = repo.search.find("harvest")
    assert (page.total, page.total_exact, page.ranked_among) == (ARTICLES, True, None)
    # The text with the word most often ranks first: every match was ranked.
    assert [hit.id for hit in page.hits] == list(reversed(ids))


def test_a_broad_query_ranks_the_most_recently_stored_and_says_so(repo: Repository) -> None:
    ids = store(repo)
    repo.search.rank_limit = 3
    page = repo.search.find("harvest")
    assert (page.total, page.total_exact, page.ranked_among) == (3, False, 3)
    newest = ids[-3:]
    assert sorted(hit.id for hit in page.hits) == sorted(newest)
    assert [hit.id for hit in page.hits] == list(reversed(newest))  # best first among them
    # Relevance pages end with the ranked matches, none twice.
    assert all_pages(repo, "relevance") == list(reversed(newest))
    # The date orders page through every match; their count says "more than".
    assert sorted(all_pages(repo, "first-seen")) == sorted(ids)
    assert all_pages(repo, "first-seen") == list(reversed(ids))
    by_date = repo.search.find("harvest", sort="published", limit=2)
    assert (by_date.total, by_date.total_exact, by_date.ranked_among) == (3, False, None)
    assert sorted(all_pages(repo, "published")) == sorted(ids)
    # The counts by source and by month stay exact.
    assert sum(repo.search.facets("harvest").by_source.values()) == ARTICLES


@pytest.mark.parametrize(
    ("filters", "numbers"),
    [
        (SearchFilters(source="KCNA.kp (En)"), [2, 4, 6]),  # an indexed filter
        (SearchFilters(since=date(2024, 1, 5), until=date(2024, 1, 6)), [4, 5]),
        (SearchFilters(first_seen_since=T0 + 6 * DAY), [6, 7]),
        (SearchFilters(gone=True), [1, 3]),  # checked on each match
        (SearchFilters(gone=True, source="KCNA Watch"), [1, 3]),
    ],
)
def test_filters_apply_before_the_bound(
    repo: Repository, filters: SearchFilters, numbers: list[int]
) -> None:
    ids = store(repo)
    repo.crawl_state.mark_gone([ids[0], ids[2]], at=T0 + 9 * DAY, reason="HTTP 404")
    repo.search.rank_limit = len(numbers)
    page = repo.search.find("harvest", filters=filters)
    assert (page.total, page.total_exact, page.ranked_among) == (len(numbers), True, None)
    assert [hit.id for hit in page.hits] == [ids[n - 1] for n in reversed(numbers)]
    repo.search.rank_limit = len(numbers) - 1
    bounded = repo.search.find("harvest", filters=filters)
    assert (bounded.total_exact, bounded.ranked_among) == (False, len(numbers) - 1)
    assert [hit.id for hit in bounded.hits] == [ids[n - 1] for n in reversed(numbers[1:])]


def test_snippets_and_columns_of_a_bounded_page(repo: Repository) -> None:
    ids = store(repo)
    repo.search.rank_limit = 2
    (best, second) = repo.search.find("harvest").hits
    assert best.id == ids[-1] and best.title == f"Report {ARTICLES} from the farms"
    assert best.source == "KCNA Watch" and best.version is None and best.version_count == 1
    assert "\x02harvest\x03" in best.snippet and second.id == ids[-2]


def test_the_command_line_says_more_than_and_how_it_ranked(migrated_sqlite: str) -> None:
    engine = make_engine(migrated_sqlite)
    try:
        repo = Repository(engine)
        items = [
            make_item(n, text=f"The harvest of farm {n}.", seen_at=T0 + n * HOUR)
            for n in range(1, RANK_LIMIT + 2)
        ]
        repo.articles.save(items)
    finally:
        engine.dispose()
    done = run_main("search", "harvest", "--limit", "2", "--db", migrated_sqlite, env={})
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"1-2 of more than {RANK_LIMIT:,} matching articles",
        f"in order of relevance among the {RANK_LIMIT:,} most recently archived;"
        " --sort published lists every match",
    ]
    listed = run_main("search", "harvest", "--json", "--db", migrated_sqlite, env={})
    document = json.loads(listed.stdout)
    assert document["total"] == RANK_LIMIT and document["total_exact"] is False
    assert document["ranked_among"] == RANK_LIMIT
    by_date = run_main(
        "search", "harvest", "--sort", "published", "--json", "--db", migrated_sqlite, env={}
    )
    assert json.loads(by_date.stdout)["ranked_among"] is None


@pytest.fixture
def web(repo: Repository, db_url: str) -> Iterator[tuple[httpx.Client, list[str]]]:
    ids = store(repo)
    repo.search.rank_limit = 3
    clock = Clock(T0 + 30 * DAY)
    with (
        WebServer(create_app(web_context(repo, clock, db_url)), "127.0.0.1", 0) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield client, ids


def test_the_api_and_the_search_page_show_the_bounds(
    web: tuple[httpx.Client, list[str]],
) -> None:
    client, ids = web
    answer = client.get("/api/articles", params={"q": "harvest"}).json()
    assert (answer["total"], answer["total_exact"], answer["ranked_among"]) == (3, False, 3)
    assert [a["id"] for a in answer["articles"]] == list(reversed(ids[-3:]))
    page = client.get("/search", params={"q": "harvest"}).text
    # The page counts every match (its counts by source are exact) and says what it ranked.
    assert f"{ARTICLES} results" in page
    assert "among the 3 most recently archived matches" in page
    assert 'href="/search?q=harvest&amp;sort=published">Sort by date</a>' in page
    by_date = client.get("/search", params={"q": "harvest", "sort": "published"}).text
    assert f"{ARTICLES} results" in by_date and "most recently archived" not in by_date


@pytest.mark.parametrize("phrase_in", ["every article", "the oldest three only"])
def test_a_phrase_finds_the_newest_matches_wherever_they_are(
    repo: Repository, phrase_in: str
) -> None:
    """On PostgreSQL a phrase is looked for among the recent articles first (RECENT_PER_MATCH
    per match ranked), then in the whole archive: the newest matches either way."""
    count = RECENT_PER_MATCH * 2 + 10
    numbers = range(1, count + 1) if phrase_in == "every article" else range(1, 4)
    items = [
        make_item(
            n,
            title=f"Report {n}",
            text=("The golden harvest came." if n in numbers else "A harvest, golden.")
            + f" Farm {n}.",
            seen_at=T0 + n * HOUR,
        )
        for n in range(1, count + 1)
    ]
    ids = [repo.articles.save([item])[0].article_id for item in items]  # in this order
    repo.search.rank_limit = 2
    page = repo.search.find('"golden harvest"')
    newest = [ids[n - 1] for n in numbers][-2:]
    assert sorted(hit.id for hit in page.hits) == sorted(newest)
    assert page.total_exact is False and page.ranked_among == 2
