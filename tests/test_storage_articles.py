"""Saving articles, on SQLite and on PostgreSQL: sightings resolved to articles (URLs, copies,
site keys, content), versions, dates and categories merged, raw pages kept, and a batch that
lost a race with another writer run again."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage import batch as article_batch
from storage.models import ArticleKey, ArticleUrl, ArticleVersion, RawPageRow
from storage.records import RawPage, SaveOutcome
from storage.repository import Repository
from tests.storage_helpers import (
    DAY,
    HOUR,
    T0,
    count_pages,
    count_rows,
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
