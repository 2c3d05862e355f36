"""Article events, on SQLite and on PostgreSQL: a new article and each edit record one event,
in order, paged by id; the recent ones and the counts by kind. (Gone and back events are
written by the crawl state: tests/test_storage_crawl_state.py.)"""

from __future__ import annotations

from storage.records import SaveOutcome
from storage.repository import Repository
from tests.storage_helpers import DAY, HOUR, T0, event_kinds, make_item


def test_new_and_edited_articles_record_one_event_each(repo: Repository) -> None:
    assert repo.articles.latest_event_id() == 0
    [a] = repo.articles.save([make_item(1)])
    assert event_kinds(repo) == [(a.article_id, "new", 1)]
    mark = repo.articles.latest_event_id()

    same = repo.articles.save([make_item(1, seen_at=T0 + HOUR)])
    assert same[0].outcome is SaveOutcome.UNCHANGED
    assert repo.articles.events_after(mark) == []

    edited = make_item(1, text="Pyongyang, March 1 (KCNA) -- A new text.", seen_at=T0 + DAY)
    [b] = repo.articles.save([edited])
    assert b.outcome is SaveOutcome.CHANGED
    [event] = repo.articles.events_after(mark)
    assert (event.article_id, event.kind, event.version, event.at) == (
        a.article_id,
        "edited",
        2,
        T0 + DAY,
    )
    assert event.id == repo.articles.latest_event_id() > mark
    assert [e.kind for e in repo.articles.events_of(a.article_id)] == ["new", "edited"]


def test_a_batch_with_a_new_article_and_its_edit_records_both_in_order(repo: Repository) -> None:
    first = make_item(1)
    second = make_item(1, title="Another title", seen_at=T0 + HOUR)
    results = repo.articles.save([first, second, make_item(2)])
    assert [r.outcome for r in results] == [SaveOutcome.NEW, SaveOutcome.CHANGED, SaveOutcome.NEW]
    events = repo.articles.events_after(0)
    assert [(e.kind, e.version) for e in events if e.article_id == results[0].article_id] == [
        ("new", 1),
        ("edited", 2),
    ]
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_events_are_paged_by_id(repo: Repository) -> None:
    repo.articles.save([make_item(n) for n in range(1, 8)])
    first = repo.articles.events_after(0, limit=3)
    rest = repo.articles.events_after(first[-1].id, limit=100)
    assert len(first) == 3 and len(rest) == 4
    assert [e.id for e in first + rest] == sorted({e.id for e in first + rest})


def test_recent_events_and_counts(repo: Repository) -> None:
    repo.articles.save([make_item(1), make_item(2)])
    repo.articles.save(
        [make_item(1, text="Pyongyang, March 1 (KCNA) -- Edited.", seen_at=T0 + HOUR)]
    )
    kinds = [(e.kind, e.version) for e in repo.articles.recent_events(["new", "edited"], limit=2)]
    assert kinds == [("edited", 2), ("new", 1)]
    assert repo.articles.event_counts() == {"new": 2, "edited": 1}
