"""Reading articles back, on SQLite and on PostgreSQL: one article by id or unique prefix,
the export record, streaming in date order with filters, the newest first, counts, and
timestamps in UTC."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from storage.articles import Articles
from storage.errors import AmbiguousId
from storage.keys import article_id, fingerprint
from storage.repository import Repository
from tests.storage_helpers import DAY, HOUR, T0, make_item, q_url, watch_url


def test_export_dict_has_exactly_the_agreed_keys(repo: Repository) -> None:
    [a] = repo.articles.save([make_item(1, categories=("Top News",))])
    view = repo.articles.get(a.article_id)
    assert view is not None
    exported = view.to_export()
    assert list(exported) == [
        "id",
        "url",
        "urls",
        "source",
        "title",
        "published",
        "published_from",
        "dateline",
        "text",
        "categories",
        "first_seen",
        "last_seen",
        "content_hash",
        "versions",
        "gone",
    ]
    assert exported["gone"] is None
    assert exported["urls"] == [q_url(1)]
    assert exported["published"] == "2026-03-01"
    assert exported["first_seen"] == "2026-03-01T12:00:00+00:00"
    assert datetime.fromisoformat(exported["last_seen"]) == T0
    assert exported["versions"] == 1 and exported["categories"] == ["Top News"]
    assert json.loads(json.dumps(exported)) == exported

    [b] = repo.articles.save([make_item(2, published=None)])
    undated = repo.articles.get(b.article_id)
    assert undated is not None
    assert undated.to_export()["published"] is None
    assert undated.to_export()["published_from"] is None


def _two_items_sharing_an_id_prefix(length: int) -> tuple[int, int]:
    seen: dict[str, int] = {}
    for n in range(1, 1_000_000):
        item = make_item(n)
        prefix = article_id(fingerprint(item.title, item.published, item.text))[:length]
        if prefix in seen:
            return seen[prefix], n
        seen[prefix] = n
    raise AssertionError("no shared prefix found")


def test_get_article_by_unique_prefix(repo: Repository) -> None:
    one, two = _two_items_sharing_an_id_prefix(4)
    [a, b] = repo.articles.save([make_item(one), make_item(two)])
    shared = a.article_id[:4]
    assert b.article_id.startswith(shared)

    with pytest.raises(AmbiguousId) as error:
        repo.articles.get(shared)
    assert set(error.value.matches) == {a.article_id, b.article_id}
    assert "matches several articles" in str(error.value)

    unique = next(
        a.article_id[:n] for n in range(5, 17) if not b.article_id.startswith(a.article_id[:n])
    )
    found = repo.articles.get(unique.upper())
    assert found is not None and found.id == a.article_id
    assert found.history and found.history[0].number == 1
    exact = repo.articles.get(b.article_id)
    assert exact is not None and exact.id == b.article_id

    with pytest.raises(AmbiguousId, match="too short"):
        repo.articles.get(shared[:3])
    assert repo.articles.get("ffff" if not shared.startswith("ffff") else "0000") is None
    assert repo.articles.get("not-an-id") is None


def test_iter_articles_orders_filters_and_streams(engine: Engine) -> None:
    articles = Articles(engine, chunk_size=2)  # several chunks for a handful of articles
    days = [date(2026, 3, 3), date(2026, 3, 1), None, date(2026, 3, 2), date(2026, 3, 1), None]
    items = [
        make_item(n, published=day, source="KCNA.kp (En)" if n % 2 else "Other")
        for n, day in enumerate(days)
    ]
    results = articles.save(items)
    ids = {n: r.article_id for n, r in enumerate(results)}

    everything = list(articles.iterate())
    assert len(everything) == 6
    dated = [v for v in everything if v.published is not None]
    assert [(v.published, v.id) for v in dated] == sorted((v.published, v.id) for v in dated)
    assert [v.published for v in everything[-2:]] == [None, None]  # undated last, by id
    assert everything[-2].id < everything[-1].id

    march_1_2 = list(articles.iterate(since=date(2026, 3, 1), until=date(2026, 3, 2)))
    assert {v.id for v in march_1_2} == {ids[1], ids[3], ids[4]}
    later = list(articles.iterate(since=date(2026, 3, 2)))
    assert {v.id for v in later} == {ids[0], ids[3]}
    kcna = list(articles.iterate(source="KCNA.kp (En)"))
    assert {v.id for v in kcna} == {ids[1], ids[3], ids[5]}

    assert all(v.history == [] for v in everything)
    assert all(v.urls for v in everything)
    with_history = list(articles.iterate(with_history=True))
    assert all(len(v.history) == 1 for v in with_history)

    # Newest first: dated ones by date then id, both descending, undated last (id descending).
    newest_first = list(articles.iterate(newest_first=True))
    assert [v.id for v in newest_first] == [v.id for v in reversed(dated)] + [
        v.id for v in reversed(everything[-2:])
    ]
    assert {v.id for v in articles.iterate(newest_first=True, source="Other")} == {
        ids[0],
        ids[2],
        ids[4],
    }


def test_list_and_count_articles(repo: Repository) -> None:
    repo.articles.save([make_item(1, published=date(2026, 2, 27))])
    repo.articles.save([make_item(2, published=date(2026, 3, 1), seen_at=T0 + DAY)])
    repo.articles.save([make_item(3, published=None, seen_at=T0 + 2 * DAY)])
    repo.articles.save([make_item(4, published=date(2026, 2, 28), source="Other")])

    newest = repo.articles.newest(limit=10)
    assert [v.published for v in newest] == [
        date(2026, 3, 1),
        date(2026, 2, 28),
        date(2026, 2, 27),
        None,
    ]
    assert [v.published for v in repo.articles.newest(limit=2, offset=1)] == [
        date(2026, 2, 28),
        date(2026, 2, 27),
    ]
    assert [v.source for v in repo.articles.newest(limit=10, source="Other")] == ["Other"]
    # By arrival: the latest stored first, whatever their publication dates.
    arrivals = repo.articles.newest(limit=10, sort="first-seen")
    assert [v.first_seen for v in arrivals] == [T0 + 2 * DAY, T0 + DAY, T0, T0]
    assert arrivals[2].id > arrivals[3].id
    with pytest.raises(ValueError, match="unknown order"):
        repo.articles.newest(sort="title")  # type: ignore[arg-type]

    assert repo.articles.id_at(make_item(2).url) == newest[0].id
    assert repo.articles.id_at("http://www.kcna.kp/never/read") is None

    assert repo.articles.count() == 4
    assert repo.articles.count(first_seen_since=T0 + DAY) == 2
    assert repo.articles.count(first_seen_since=T0 + 3 * DAY) == 0


def test_timestamps_come_back_as_utc(repo: Repository) -> None:
    pyongyang = timezone(timedelta(hours=9))
    seen = datetime(2026, 3, 1, 21, 30, tzinfo=pyongyang)
    [a] = repo.articles.save([make_item(1, seen_at=seen)])
    view = repo.articles.get(a.article_id)
    assert view is not None
    assert view.first_seen == seen and view.first_seen.utcoffset() == timedelta(0)
    assert view.first_seen.hour == 12 and view.urls[0].last_seen.tzinfo is not None


def test_last_url_first_seen_by_site(repo: Repository) -> None:
    repo.articles.save([make_item(1, seen_at=T0), make_item(2, seen_at=T0 + HOUR)])
    repo.articles.save([make_item(3, url=watch_url(3), seen_at=T0 + 2 * HOUR)])
    kcna = ["http://www.kcna.kp/", "https://www.kcna.kp/"]
    assert repo.articles.last_url_first_seen(kcna) == T0 + HOUR
    assert repo.articles.last_url_first_seen(["https://kcnawatch.org/"]) == T0 + 2 * HOUR
    assert repo.articles.last_url_first_seen(["http://other.example/"]) is None
    assert repo.articles.last_url_first_seen([]) is None
