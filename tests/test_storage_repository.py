"""Repository behaviour, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage import batch as article_batch
from storage.articles import Articles
from storage.errors import AmbiguousId, UnknownRun
from storage.keys import article_id, fingerprint
from storage.models import ArticleKey, ArticleUrl, ArticleVersion, RawPageRow
from storage.records import FailureInput, RawPage, SaveOutcome
from storage.repository import Repository
from tests.storage_helpers import (
    DAY,
    HOUR,
    T0,
    count_pages,
    count_rows,
    last_failures,
    latest_page,
    make_item,
    q_url,
    watch_url,
)

NEW, CHANGED, UNCHANGED = SaveOutcome.NEW, SaveOutcome.CHANGED, SaveOutcome.UNCHANGED


def test_new_then_unchanged_moves_only_last_seen(repo: Repository) -> None:
    [first] = repo.articles.save([make_item(1)])
    assert first.outcome is NEW and first.version == 1

    [again] = repo.articles.save([make_item(1, seen_at=T0 + DAY)])
    assert (again.article_id, again.outcome, again.version) == (first.article_id, UNCHANGED, 1)

    view = repo.articles.get(first.article_id)
    assert view is not None
    assert view.first_seen == T0 and view.last_seen == T0 + DAY
    assert view.versions == 1 and len(view.history) == 1
    assert [(u.url, u.first_seen, u.last_seen) for u in view.urls] == [(q_url(1), T0, T0 + DAY)]

    # An older sighting arriving late moves nothing backwards.
    repo.articles.save([make_item(1, seen_at=T0 - HOUR)])
    view = repo.articles.get(first.article_id)
    assert view is not None
    assert view.first_seen == T0 - HOUR and view.last_seen == T0 + DAY


def test_edit_at_known_url_appends_version_and_keeps_history(repo: Repository) -> None:
    [first] = repo.articles.save([make_item(1)])
    edited = make_item(1, text="Pyongyang, March 1 (KCNA) -- A corrected report. -0-")
    [second] = repo.articles.save([replace(edited, seen_at=T0 + DAY)])
    assert (second.article_id, second.outcome, second.version) == (first.article_id, CHANGED, 2)

    view = repo.articles.get(first.article_id)
    assert view is not None
    assert view.text == edited.text and view.versions == 2
    assert [v.number for v in view.history] == [1, 2]
    assert view.history[0].text == make_item(1).text
    assert view.history[1].text == edited.text
    assert view.history[1].first_seen == T0 + DAY
    assert view.content_hash == view.history[1].content_hash != view.history[0].content_hash

    # An alias URL still serving version 1 neither adds a version nor reverts the article.
    stale = make_item(1, url=q_url(1, variant=1), seen_at=T0 + 2 * DAY)
    [third] = repo.articles.save([stale])
    assert (third.article_id, third.outcome, third.version) == (first.article_id, UNCHANGED, 1)
    view = repo.articles.get(first.article_id)
    assert view is not None
    assert view.text == edited.text and view.versions == 2

    # A further edit becomes version 3; the earlier versions stay.
    [fourth] = repo.articles.save([make_item(1, title="A new title", seen_at=T0 + 3 * DAY)])
    assert (fourth.outcome, fourth.version) == (CHANGED, 3)
    view = repo.articles.get(first.article_id)
    assert view is not None
    assert [v.title for v in view.history][-1] == "A new title" and view.versions == 3


def test_one_article_under_three_q_urls(repo: Repository, engine: Engine) -> None:
    results = repo.articles.save([make_item(1, url=q_url(1, 0)), make_item(1, url=q_url(1, 1))])
    results += repo.articles.save([make_item(1, url=q_url(1, 2), seen_at=T0 + HOUR)])
    assert [r.outcome for r in results] == [NEW, UNCHANGED, UNCHANGED]
    assert len({r.article_id for r in results}) == 1
    assert repo.articles.count() == 1
    view = repo.articles.get(results[0].article_id)
    assert view is not None
    assert sorted(u.url for u in view.urls) == sorted(q_url(1, v) for v in range(3))
    assert view.url == q_url(1, 0)
    assert count_rows(engine, ArticleVersion) == 1


def test_kcnawatch_copy_joins_the_original(repo: Repository) -> None:
    original = make_item(
        7,
        title="Kim Jong Un’s “Speech” at the Plenary—Meeting",
        text="Pyongyang, March 1 (KCNA) -- The  people’s\u00a0“great” victory. -0-",
    )
    copy = make_item(
        7,
        url=watch_url(7),
        canonical_url=original.url,
        title='Kim Jong Un\'s "Speech" at the Plenary-Meeting',
        text='Pyongyang, March 1 (KCNA) -- The people\'s "great" victory.\n-0-',
        published_from="meta-line",
        seen_at=T0 + HOUR,
        source_key="kcnawatch:1700000007-7",
    )
    [a] = repo.articles.save([original])
    [b] = repo.articles.save([copy])
    assert (b.article_id, b.outcome) == (a.article_id, UNCHANGED)
    view = repo.articles.get(a.article_id)
    assert view is not None
    assert view.url == original.url
    assert view.title == original.title  # the original's wording stays current
    assert view.published_from == "page-stamp"
    assert sorted(u.url for u in view.urls) == sorted([original.url, watch_url(7)])


def test_copy_seen_first_takes_the_publisher_url(repo: Repository) -> None:
    linked = make_item(8, url=watch_url(8), canonical_url=q_url(8), published_from="meta-line")
    [a] = repo.articles.save([linked])
    view = repo.articles.get(a.article_id)
    assert view is not None and view.url == q_url(8)
    [b] = repo.articles.save([make_item(8)])  # the original, read at its canonical URL
    assert (b.article_id, b.outcome) == (a.article_id, UNCHANGED)


def test_unlinked_copy_is_joined_by_content_and_upgraded_to_the_publisher_url(
    repo: Repository,
) -> None:
    unlinked = make_item(9, url=watch_url(9), published_from="meta-line")  # no original link
    [a] = repo.articles.save([unlinked])
    view = repo.articles.get(a.article_id)
    assert view is not None and view.url == watch_url(9)
    [b] = repo.articles.save([make_item(9, url=q_url(9, 3))])
    assert (b.article_id, b.outcome) == (a.article_id, UNCHANGED)
    view = repo.articles.get(a.article_id)
    assert view is not None
    assert view.url == q_url(9, 3)
    assert view.published_from == "page-stamp"


def test_detail_source_key_identifies_the_article(repo: Repository) -> None:
    detail = "http://www.kcna.kp/en/article/detail/" + "ab" * 16
    first = make_item(3, url=detail, source_key="kcna-detail:" + "ab" * 16)
    [a] = repo.articles.save([first])
    # Same site id, another URL form and an edited text: the same article, changed.
    moved = make_item(
        3,
        url=detail + "?lang=en",
        text="Pyongyang, March 1 (KCNA) -- Rewritten. -0-",
        source_key="kcna-detail:" + "ab" * 16,
        seen_at=T0 + HOUR,
    )
    [b] = repo.articles.save([moved])
    assert (b.article_id, b.outcome, b.version) == (a.article_id, CHANGED, 2)
    # Another site id with other content is another article.
    [c] = repo.articles.save(
        [make_item(4, url=detail.replace("ab", "cd"), source_key="kcna-detail:" + "cd" * 16)]
    )
    assert c.outcome is NEW and c.article_id != a.article_id
    assert repo.articles.count() == 2


def test_categories_are_unioned(repo: Repository) -> None:
    [a] = repo.articles.save([make_item(1, categories=("Top News", "Leader"))])
    repo.articles.save([make_item(1, url=q_url(1, 1), categories=("Leader", "Politics"))])
    view = repo.articles.get(a.article_id)
    assert view is not None
    assert view.categories == ["Top News", "Leader", "Politics"]


def test_better_date_origin_upgrades_the_date(repo: Repository) -> None:
    guessed = make_item(1, published=date(2025, 3, 1), published_from="dateline")
    [a] = repo.articles.save([guessed])
    repo.articles.save([make_item(1, published=date(2026, 3, 1), published_from="listing")])
    view = repo.articles.get(a.article_id)
    assert view is not None
    assert (view.published, view.published_from) == (date(2026, 3, 1), "listing")
    # A worse origin never downgrades; a better one wins again.
    repo.articles.save([make_item(1, published=date(2026, 3, 2), published_from="meta-line")])
    repo.articles.save([make_item(1, published=date(2026, 3, 1), published_from="page-stamp")])
    view = repo.articles.get(a.article_id)
    assert view is not None
    assert (view.published, view.published_from) == (date(2026, 3, 1), "page-stamp")
    assert view.versions == 1


def test_undated_article_takes_the_first_date_offered(repo: Repository) -> None:
    [a] = repo.articles.save([make_item(1, published=None)])
    repo.articles.save([make_item(1, published=date(2026, 3, 1), published_from="dateline")])
    view = repo.articles.get(a.article_id)
    assert view is not None
    assert (view.published, view.published_from) == (date(2026, 3, 1), "dateline")


def test_one_batch_resolves_its_own_items(repo: Repository, engine: Engine) -> None:
    edited = make_item(1, url=q_url(1, 2), text="Edited text.", seen_at=T0 + HOUR)
    results = repo.articles.save(
        [make_item(1), make_item(2), make_item(1, url=q_url(1, 2)), edited, make_item(1)]
    )
    outcomes = [(r.outcome, r.version) for r in results]
    assert outcomes == [(NEW, 1), (NEW, 1), (UNCHANGED, 1), (CHANGED, 2), (UNCHANGED, 1)]
    assert results[0].article_id == results[2].article_id == results[3].article_id
    assert repo.articles.count() == 2
    assert count_rows(engine, ArticleVersion) == 3
    assert count_rows(engine, ArticleUrl) == 3
    assert repo.articles.save([]) == []


def test_the_same_batch_saved_twice_changes_nothing(repo: Repository, engine: Engine) -> None:
    batch = [make_item(n) for n in range(20)]
    assert {r.outcome for r in repo.articles.save(batch)} == {NEW}
    keys = count_rows(engine, ArticleKey)
    assert {r.outcome for r in repo.articles.save(batch)} == {UNCHANGED}
    assert count_rows(engine, ArticleKey) == keys
    assert repo.articles.count() == 20


def test_raw_pages_are_deduplicated_and_round_trip(repo: Repository, engine: Engine) -> None:
    body = ("<html><p>Pyongyang — “text” ünïcode</p>" * 200 + "</html>").encode()
    url = q_url(1)
    repo.articles.save([make_item(1, page=RawPage(url, body, T0, 200, "p1", "text/html"))])
    repo.articles.save([make_item(1, page=RawPage(url, body, T0 + DAY, 200, "p2", "text/html"))])
    assert count_rows(engine, RawPageRow) == 1
    page = latest_page(engine, url)
    assert page is not None
    assert page.body == body and page.fetched_at == T0 + DAY
    assert (page.status, page.content_type, page.parser_version) == (200, "text/html", "p1")
    with engine.connect() as connection:
        stored = connection.execute(select(RawPageRow.body)).scalar_one()
    assert len(stored) < len(body) // 5 and zlib.decompress(stored) == body

    changed_body = body.replace(b"text", b"TEXT")
    repo.articles.save([make_item(1, page=RawPage(url, changed_body, T0 + 2 * DAY))])
    assert count_pages(engine) == 2
    latest = latest_page(engine, url)
    assert latest is not None and latest.body == changed_body
    assert latest_page(engine, q_url(2)) is None


def test_article_page_is_stored_with_the_article(repo: Repository, engine: Engine) -> None:
    page = RawPage(q_url(5), b"<html>five</html>", T0, 200, "p1", "text/html")
    repo.articles.save([make_item(5, page=page), make_item(5, page=page)])
    stored = latest_page(engine, q_url(5))
    assert stored is not None and stored.body == b"<html>five</html>"
    assert count_pages(engine) == 1


def test_runs_and_failures(repo: Repository, engine: Engine) -> None:
    first = repo.runs.start("kcna", T0)
    second = repo.runs.start("kcnawatch", T0 + HOUR)
    assert [r.status for r in repo.runs.recent(10)] == ["running", "running"]
    repo.runs.finish(
        first,
        finished_at=T0 + 2 * HOUR,
        status="ok",
        pages=10,
        new=3,
        changed=1,
        unchanged=6,
        failures=1,
    )
    repo.runs.finish(
        second,
        finished_at=T0 + 3 * HOUR,
        status="failed",
        pages=0,
        new=0,
        changed=0,
        unchanged=0,
        failures=0,
        error="site unreachable",
    )
    runs = repo.runs.recent(10)
    assert [r.id for r in runs] == [second, first]
    assert runs[0].error == "site unreachable" and runs[0].finished_at == T0 + 3 * HOUR
    kcna = repo.runs.recent(5, source="kcna")
    assert len(kcna) == 1
    assert (kcna[0].status, kcna[0].pages, kcna[0].new, kcna[0].changed) == ("ok", 10, 3, 1)
    assert (kcna[0].unchanged, kcna[0].failures, kcna[0].error) == (6, 1, None)
    assert repo.runs.recent(1) == runs[:1]

    repo.runs.record_failures(first, [FailureInput(q_url(1), "timeout", T0 + HOUR)])
    repo.runs.record_failures(
        None, [FailureInput(q_url(2), "parse error: no title", T0 + 2 * HOUR)]
    )
    repo.runs.record_failures(None, [])
    failures = last_failures(engine, 10)
    assert [(f.run_id, f.url, f.reason) for f in failures] == [
        (None, q_url(2), "parse error: no title"),
        (first, q_url(1), "timeout"),
    ]
    assert failures[0].at == T0 + 2 * HOUR
    assert len(last_failures(engine, 1)) == 1

    with pytest.raises(UnknownRun):
        repo.runs.finish(
            999999,
            finished_at=T0,
            status="ok",
            pages=0,
            new=0,
            changed=0,
            unchanged=0,
            failures=0,
        )
    with pytest.raises(ValueError, match="status"):
        repo.runs.finish(
            first,
            finished_at=T0,
            status="done",
            pages=0,
            new=0,
            changed=0,
            unchanged=0,
            failures=0,
        )


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


def _stale_reads(monkeypatch: pytest.MonkeyPatch, stale_calls: int) -> list[int]:
    """Make the first ``stale_calls`` batch resolutions see an empty archive, as a batch does
    when another process commits the same articles between its reads and its writes."""
    calls = [0]
    known_keys, load_states = article_batch._known_keys, article_batch._load_states

    def fake_known_keys(session: Session, keys: list[str]) -> dict[str, str]:
        calls[0] += 1
        if calls[0] <= stale_calls:
            return {}
        return known_keys(session, keys)

    def fake_load_states(session: Session, ids: list[str]) -> dict:
        if calls[0] <= stale_calls:
            return {}
        return load_states(session, ids)

    monkeypatch.setattr(article_batch, "_known_keys", fake_known_keys)
    monkeypatch.setattr(article_batch, "_load_states", fake_load_states)
    return calls


def test_a_batch_that_lost_a_race_is_run_again(
    repo: Repository, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    [a] = repo.articles.save([make_item(1)])
    calls = _stale_reads(monkeypatch, stale_calls=2)
    [b] = repo.articles.save([make_item(1, url=q_url(1, 1), seen_at=T0 + HOUR)])
    assert calls[0] == 3
    assert (b.article_id, b.outcome) == (a.article_id, UNCHANGED)
    assert repo.articles.count() == 1 and count_rows(engine, ArticleVersion) == 1
    assert count_rows(engine, ArticleUrl) == 2


def test_the_last_attempt_always_completes(
    repo: Repository, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.articles.save([make_item(1)])
    calls = _stale_reads(monkeypatch, stale_calls=100)
    repo.articles.save([make_item(1, url=q_url(1, 1), seen_at=T0 + HOUR)])
    assert calls[0] == 6  # every attempt used, no error
    assert repo.articles.count() == 1 and count_rows(engine, ArticleVersion) == 1


def test_known_urls_are_listed_per_site(repo: Repository) -> None:
    repo.articles.save(
        [
            make_item(1, url=q_url(1)),
            make_item(2, url=watch_url(2)),
        ]
    )
    assert repo.crawl_state.known_urls(["http://www.kcna.kp/"]) == {q_url(1)}
    assert repo.crawl_state.known_urls(["https://kcnawatch.org/"]) == {watch_url(2)}
    assert repo.crawl_state.known_urls(["http://www.kcna.kp/en/%"]) == set()  # no wildcards
    assert repo.crawl_state.known_urls([]) == set()


def test_validators_are_stored_and_replaced(repo: Repository) -> None:
    url = "http://www.kcna.kp/en/article/list/a666dda1282180e0ee1b4427b0574ae7"
    repo.crawl_state.save_validators({url: ('"v1"', None)}, T0)
    repo.crawl_state.save_validators({url: ('"v2"', "Tue, 01 Dec 2026 10:00:00 GMT")}, T0 + HOUR)
    assert repo.crawl_state.validators(["http://www.kcna.kp/"]) == {
        url: ('"v2"', "Tue, 01 Dec 2026 10:00:00 GMT")
    }
    assert repo.crawl_state.validators(["https://kcnawatch.org/"]) == {}


def test_failed_urls_are_those_still_missing(repo: Repository) -> None:
    run = repo.runs.start("kcna", T0)
    repo.runs.record_failures(
        run,
        [
            FailureInput(url=q_url(1), reason="timeout", at=T0),
            FailureInput(
                url=q_url(2), reason="HTTP 500", at=T0 + HOUR, listed_on=date(2026, 2, 28)
            ),
            FailureInput(url=q_url(3), reason="HTTP 500", at=T0 - 10 * DAY),
            FailureInput(url=watch_url(4), reason="HTTP 500", at=T0),
        ],
    )
    repo.articles.save([make_item(1, url=q_url(1))])  # fetched fine later
    assert repo.crawl_state.failed_urls(["http://www.kcna.kp/"], since=T0 - DAY) == {
        q_url(2): date(2026, 2, 28)
    }
    assert repo.crawl_state.failed_urls([], since=T0 - DAY) == {}


def test_backfill_progress_only_moves_forward(repo: Repository) -> None:
    listing = "http://www.kcna.kp/en/article/list/a666dda1282180e0ee1b4427b0574ae7"
    assert repo.crawl_state.backfill_progress("kcna") == {}
    repo.crawl_state.save_backfill_progress("kcna", {listing: (3, None)}, T0)
    repo.crawl_state.save_backfill_progress(
        "kcna", {listing: (2, 24)}, T0 + HOUR
    )  # a slower sibling run
    assert repo.crawl_state.backfill_progress("kcna") == {listing: (3, 24)}
    assert repo.crawl_state.backfill_progress("kcnawatch") == {}
    repo.crawl_state.reset_backfill_progress("kcna")
    assert repo.crawl_state.backfill_progress("kcna") == {}
