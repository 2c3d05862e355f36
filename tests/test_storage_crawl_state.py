"""Crawl state, on SQLite and on PostgreSQL: the URLs known and failed per site, HTTP
validators, backfill progress, gone marks (and articles coming back), the articles due for a
revisit or a recheck, and listing snapshots, whose vanished entries are marked gone. Every
change of an article writes its event in its own transaction; nothing is ever deleted."""

from __future__ import annotations

from datetime import date

from storage.records import FailureInput, SaveOutcome
from storage.repository import Repository
from tests.storage_helpers import DAY, HOUR, T0, event_kinds, make_item, q_url, watch_url

KCNA = ("http://www.kcna.kp/",)
WATCH = ("https://kcnawatch.org/",)


# -- known and failed URLs, validators, backfill progress ------------------------------------


def test_known_urls_are_listed_per_site_with_their_titles(repo: Repository) -> None:
    repo.articles.save(
        [
            make_item(1, url=q_url(1)),
            make_item(2, url=watch_url(2)),
        ]
    )
    kcna = repo.crawl_state.known_titles(["http://www.kcna.kp/"])
    assert kcna == {q_url(1): make_item(1, url=q_url(1)).title}
    assert set(repo.crawl_state.known_titles(["https://kcnawatch.org/"])) == {watch_url(2)}
    assert repo.crawl_state.known_titles(["http://www.kcna.kp/en/%"]) == {}  # no wildcards
    assert repo.crawl_state.known_titles([]) == {}


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


def test_a_failure_keeps_the_category_of_its_listing(repo: Repository) -> None:
    run = repo.runs.start("kcna", T0)
    repo.runs.record_failures(
        run,
        [
            FailureInput(url=q_url(1), reason="HTTP 503", at=T0, category="Top News"),
            FailureInput(url=q_url(1), reason="HTTP 503", at=T0 + HOUR),  # retried, no listing
            FailureInput(url=q_url(2), reason="HTTP 503", at=T0, category="Latest News"),
            FailureInput(url=q_url(2), reason="HTTP 503", at=T0 + HOUR, category="Top News"),
            FailureInput(url=q_url(3), reason="HTTP 503", at=T0),
        ],
    )
    found = repo.crawl_state.failure_categories([q_url(1), q_url(2), q_url(3), q_url(4)])
    assert found == {q_url(1): "Top News", q_url(2): "Top News"}  # the latest one given
    assert repo.crawl_state.failure_categories([]) == {}


def test_listings_add_their_categories_to_stored_articles(repo: Repository) -> None:
    one = make_item(1, url=q_url(1), categories=("Latest News",))
    repo.articles.save([one, make_item(2, url=watch_url(2), canonical_url=q_url(2))])
    added = repo.articles.add_categories(
        {
            q_url(1): ["Top News", "Latest News"],
            watch_url(2): ["Top News"],  # by any URL it was seen at
            q_url(9): ["Top News"],  # not stored (yet)
        }
    )
    assert added == {q_url(1), watch_url(2)}
    first = repo.articles.get(repo.articles.id_at(q_url(1)))
    assert first.categories == ["Latest News", "Top News"]
    assert first.versions == 1  # no new version
    second = repo.articles.get(repo.articles.id_at(watch_url(2)))
    assert second.categories == ["Top News"]
    assert repo.articles.add_categories({q_url(1): ["Top News"]}) == {q_url(1)}  # no change
    assert repo.articles.get(first.id).categories == ["Latest News", "Top News"]
    assert repo.articles.add_categories({}) == set()


def test_validators_are_stored_and_replaced(repo: Repository) -> None:
    url = "http://www.kcna.kp/en/article/list/a666dda1282180e0ee1b4427b0574ae7"
    repo.crawl_state.save_validators({url: ('"v1"', None)}, T0)
    repo.crawl_state.save_validators({url: ('"v2"', "Tue, 01 Dec 2026 10:00:00 GMT")}, T0 + HOUR)
    assert repo.crawl_state.validators(["http://www.kcna.kp/"]) == {
        url: ('"v2"', "Tue, 01 Dec 2026 10:00:00 GMT")
    }
    assert repo.crawl_state.validators(["https://kcnawatch.org/"]) == {}


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


# -- gone and back ---------------------------------------------------------------------------


def test_gone_by_url_is_marked_once_kept_and_exported(repo: Repository) -> None:
    [a] = repo.articles.save([make_item(1), make_item(1, url=q_url(1, 1))])[:1]
    mark = repo.articles.latest_event_id()
    assert repo.crawl_state.mark_gone([q_url(1, 1)], at=T0 + DAY, reason="HTTP 404") == [
        a.article_id
    ]
    assert repo.crawl_state.mark_gone([a.article_id], at=T0 + 2 * DAY, reason="HTTP 410") == []
    [event] = repo.articles.events_after(mark)
    assert (event.kind, event.at, event.detail) == ("gone", T0 + DAY, f"HTTP 404: {q_url(1, 1)}")

    view = repo.articles.get(a.article_id)
    assert view is not None and view.gone_at == T0 + DAY
    assert view.to_export()["gone"] == "2026-03-02T12:00:00+00:00"
    assert [v.gone_at for v in repo.articles.iterate()] == [T0 + DAY]
    assert repo.crawl_state.gone_urls(KCNA) == {q_url(1), q_url(1, 1)}
    assert (
        repo.crawl_state.mark_gone(["http://www.kcna.kp/nothing-here", "0" * 16], at=T0, reason="x")
        == []
    )


def test_an_article_seen_after_the_404_is_not_marked_gone(repo: Repository) -> None:
    [a] = repo.articles.save([make_item(1, seen_at=T0 + HOUR)])
    assert repo.crawl_state.mark_gone([q_url(1)], at=T0, reason="HTTP 404") == []
    assert repo.articles.get(a.article_id).gone_at is None  # type: ignore[union-attr]


def test_a_gone_article_fetched_again_is_back(repo: Repository) -> None:
    [a] = repo.articles.save([make_item(1)])
    repo.crawl_state.mark_gone([q_url(1)], at=T0 + HOUR, reason="HTTP 404")
    mark = repo.articles.latest_event_id()

    # A page fetched before the mark (e.g. spooled) does not count.
    repo.articles.save([make_item(1, url=q_url(1, 1), seen_at=T0 + HOUR / 2)])
    assert repo.articles.events_after(mark) == []

    [b] = repo.articles.save([make_item(1, seen_at=T0 + DAY)])
    assert b.outcome is SaveOutcome.UNCHANGED
    assert event_kinds(repo, mark) == [(a.article_id, "back", None)]
    assert repo.articles.get(a.article_id).gone_at is None  # type: ignore[union-attr]
    assert repo.crawl_state.gone_urls(KCNA) == set()


def test_a_not_modified_answer_brings_a_gone_article_back(repo: Repository) -> None:
    [a] = repo.articles.save([make_item(1)])
    repo.crawl_state.mark_gone([a.article_id], at=T0 + HOUR, reason="vanished")
    mark = repo.articles.latest_event_id()
    assert (
        repo.crawl_state.mark_checked([q_url(1)], T0 + 2 * HOUR) == []
    )  # a failed check: still gone
    assert repo.crawl_state.mark_checked([q_url(1)], T0 + DAY, still_there=True) == [a.article_id]
    assert event_kinds(repo, mark) == [(a.article_id, "back", None)]


# -- revisits and rechecks -------------------------------------------------------------------


def test_due_for_revisit_takes_young_articles_not_checked_lately(repo: Repository) -> None:
    young = make_item(1, published=date(2026, 3, 1))
    old = make_item(2, published=date(2026, 1, 1))
    undated = make_item(3, published=None)
    copy = make_item(4, url=watch_url(4), published=date(2026, 3, 1))
    repo.articles.save([young, old, undated, copy])
    now = T0 + DAY + HOUR
    due = repo.crawl_state.due_for_revisit(
        KCNA, young_since=now - 7 * DAY, checked_before=now - DAY
    )
    assert due == {q_url(1): date(2026, 3, 1), q_url(3): None}
    assert set(
        repo.crawl_state.due_for_revisit(WATCH, young_since=now - 7 * DAY, checked_before=now - DAY)
    )
    assert (
        repo.crawl_state.due_for_revisit(KCNA, young_since=now - 7 * DAY, checked_before=T0) == {}
    )

    repo.crawl_state.mark_checked([q_url(1)], T0 + DAY)
    due = repo.crawl_state.due_for_revisit(
        KCNA, young_since=now - 7 * DAY, checked_before=now - DAY
    )
    assert due == {q_url(3): None}
    later = T0 + 9 * DAY
    assert (
        repo.crawl_state.due_for_revisit(KCNA, young_since=later - 7 * DAY, checked_before=later)
        == {}
    )


def test_an_original_never_read_is_checked_through_its_copy(repo: Repository) -> None:
    repo.articles.save([make_item(1, url=watch_url(1), canonical_url=q_url(1))])
    now = T0 + 2 * DAY
    window = {"young_since": now - 7 * DAY, "checked_before": now - DAY}
    assert repo.crawl_state.due_for_revisit(KCNA, **window) == {}
    assert repo.crawl_state.due_for_revisit(WATCH, **window) == {watch_url(1): date(2026, 3, 1)}
    repo.articles.save([make_item(1, seen_at=T0 + HOUR)])  # the original is read too
    assert repo.crawl_state.due_for_revisit(WATCH, **window) == {}
    assert repo.crawl_state.due_for_revisit(KCNA, **window) == {q_url(1): date(2026, 3, 1)}


def test_urls_for_recheck_by_date_and_id(repo: Repository) -> None:
    results = repo.articles.save(
        [
            make_item(1, published=date(2025, 4, 1)),
            make_item(2, published=date(2025, 5, 31)),
            make_item(3, published=date(2025, 7, 1)),
            make_item(4, published=None),
        ]
    )
    spring = repo.crawl_state.urls_for_recheck(
        KCNA, since=date(2025, 3, 1), until=date(2025, 5, 31)
    )
    assert spring == {q_url(1): date(2025, 4, 1), q_url(2): date(2025, 5, 31)}
    assert len(repo.crawl_state.urls_for_recheck(KCNA)) == 4
    assert repo.crawl_state.urls_for_recheck(KCNA, ids=[results[2].article_id]) == {
        q_url(3): date(2025, 7, 1)
    }
    assert repo.crawl_state.urls_for_recheck(WATCH) == {}


# -- listing snapshots -----------------------------------------------------------------------


def test_an_article_vanishing_between_older_neighbours_is_gone(repo: Repository) -> None:
    results = repo.articles.save([make_item(n) for n in range(1, 6)])
    ids = [r.article_id for r in results]
    listing = "http://www.kcna.kp/en/category/articles/q/top.kcmsf"
    page = [q_url(n) for n in range(1, 6)]
    assert repo.crawl_state.record_listings({listing: page}, T0 + HOUR) == []

    # A newer article pushes the oldest off the end (not gone); article 3 vanished.
    repo.articles.save([make_item(6, seen_at=T0 + DAY)])
    now = [q_url(6), q_url(1), q_url(2), q_url(4)]
    mark = repo.articles.latest_event_id()
    assert repo.crawl_state.record_listings({listing: now}, T0 + DAY + HOUR) == [ids[2]]
    [event] = repo.articles.events_after(mark)
    assert (event.kind, event.detail) == ("gone", f"vanished from the listing {listing}")
    assert repo.articles.get(ids[4]).gone_at is None  # type: ignore[union-attr]


def test_an_article_moved_to_another_page_of_the_crawl_is_not_gone(repo: Repository) -> None:
    results = repo.articles.save([make_item(n) for n in range(1, 7)])
    one, two = "http://www.kcna.kp/list#page=1", "http://www.kcna.kp/list#page=2"
    repo.crawl_state.record_listings(
        {one: [q_url(1), q_url(2), q_url(3)], two: [q_url(4), q_url(5), q_url(6)]}, T0 + HOUR
    )
    # Article 2 deleted: article 4 moves up to page 1 (page 2 lost its first entry).
    gone = repo.crawl_state.record_listings(
        {one: [q_url(1), q_url(3), q_url(4)], two: [q_url(5), q_url(6)]}, T0 + DAY
    )
    assert gone == [results[1].article_id]


def test_unknown_urls_and_empty_pages_change_nothing(repo: Repository) -> None:
    repo.articles.save([make_item(n) for n in range(1, 4)])
    listing = "http://www.kcna.kp/en/category/articles/q/top.kcmsf"
    repo.crawl_state.record_listings({listing: [q_url(1), q_url(2), q_url(3)]}, T0 + HOUR)
    assert (
        repo.crawl_state.record_listings({listing: []}, T0 + DAY) == []
    )  # an empty read is no evidence
    assert (
        repo.crawl_state.record_listings({listing: ["http://www.kcna.kp/unknown"]}, T0 + DAY) == []
    )
    assert repo.crawl_state.record_listings({listing: None}, T0 + DAY) == []  # not modified
    assert len(repo.crawl_state.record_listings({listing: [q_url(1), q_url(3)]}, T0 + DAY)) == 1


def test_a_page_not_modified_still_shows_its_articles(repo: Repository) -> None:
    repo.articles.save([make_item(n) for n in range(1, 4)])
    top = "http://www.kcna.kp/en/category/articles/q/top.kcmsf"
    home = "http://www.kcna.kp/en/category/articles/q/home.kcmsf"
    repo.crawl_state.record_listings(
        {top: [q_url(1), q_url(2), q_url(3)], home: [q_url(2)]}, T0 + HOUR
    )
    # Article 2 left "top" but is still in "home", which answered 304: not gone.
    assert repo.crawl_state.record_listings({top: [q_url(1), q_url(3)], home: None}, T0 + DAY) == []


def test_a_copy_missing_from_an_aggregator_listing_is_not_gone(repo: Repository) -> None:
    # Originals read on their own site, and their copies on the aggregator.
    repo.articles.save([make_item(n) for n in range(1, 4)])
    copies = [make_item(n, url=watch_url(n), canonical_url=q_url(n)) for n in range(1, 4)]
    repo.articles.save(copies)
    listing = "https://kcnawatch.org/newstream/"
    repo.crawl_state.record_listings(
        {listing: [watch_url(1), watch_url(2), watch_url(3)]}, T0 + HOUR
    )
    assert repo.crawl_state.record_listings({listing: [watch_url(1), watch_url(3)]}, T0 + DAY) == []
    watch_only = [make_item(n, url=watch_url(n)) for n in range(4, 7)]
    repo.articles.save(watch_only)
    repo.crawl_state.record_listings(
        {listing: [watch_url(4), watch_url(5), watch_url(6)]}, T0 + DAY
    )
    assert (
        len(repo.crawl_state.record_listings({listing: [watch_url(4), watch_url(6)]}, T0 + 2 * DAY))
        == 1
    )


def test_an_article_read_only_on_an_aggregator_is_gone_when_missing_there(
    repo: Repository,
) -> None:
    # Read only on KCNA Watch; their own URLs are kcna.kp "original" links never read.
    items = [make_item(n, url=watch_url(n), canonical_url=q_url(n)) for n in range(1, 4)]
    results = repo.articles.save(items)
    listing = "https://kcnawatch.org/newstream/"
    repo.crawl_state.record_listings(
        {listing: [watch_url(1), watch_url(2), watch_url(3)]}, T0 + HOUR
    )
    marked = repo.crawl_state.record_listings({listing: [watch_url(1), watch_url(3)]}, T0 + DAY)
    assert marked == [results[1].article_id]


def test_a_later_page_losing_its_first_article_to_an_unread_page_is_not_evidence(
    repo: Repository,
) -> None:
    results = repo.articles.save([make_item(n) for n in range(1, 5)])
    two = "http://www.kcna.kp/list#page=2"
    repo.crawl_state.record_listings(
        {two: [q_url(1), q_url(2), q_url(3)]}, T0 + HOUR, later_pages=[two]
    )
    # Something on page 1 was deleted: article 1 moved up to page 1, which was not read.
    now = [q_url(2), q_url(3), q_url(4)]
    assert repo.crawl_state.record_listings({two: now}, T0 + DAY, later_pages=[two]) == []
    # From the middle of a later page, it counts.
    assert repo.crawl_state.record_listings(
        {two: [q_url(2), q_url(4)]}, T0 + 2 * DAY, later_pages=[two]
    ) == [results[2].article_id]
