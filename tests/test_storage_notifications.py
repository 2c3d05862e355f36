"""The monitoring tables: watch matches, the notification outbox, alarms, run stats."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from storage.errors import DatabaseUnavailable
from storage.monitor import MatchInput, MonitorStore, RunStats
from storage.repository import Repository
from tests.storage_helpers import HOUR, T0

pytest_plugins = ["tests.storage_fixtures"]

MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(engine: Engine) -> MonitorStore:
    return MonitorStore(engine)


def match(
    article_id: str = "a" * 16,
    *,
    rule: str = "missiles",
    version: int = 1,
    event: str = "new",
    targets: tuple[str, ...] = ("log", "webhook:http://127.0.0.1:9/hook"),
) -> MatchInput:
    dedup = f"v{version}" if event != "gone" else "gone:7"
    event_id = {"new": 3, "edited": 5, "gone": 7}[event]
    return MatchInput(
        rule=rule,
        article_id=article_id,
        version=version,
        event=event,
        dedup=dedup,
        event_id=event_id,
        title="Missile launched",
        url="http://www.kcna.kp/en/article/q/x.kcmsf",
        published=date(2026, 3, 1),
        snippet="... a missile ...",
        matched_at=T0,
        targets=targets,
        payload={"rule": rule, "article_id": article_id, "event": event},
    )


def test_a_match_is_stored_and_queued_once(store: MonitorStore) -> None:
    first = store.record_matches([match()], cursor="watch", event_id=5, at=T0)
    assert [m.rule for m in first] == ["missiles"]
    again = store.record_matches([match(), match()], cursor="watch", event_id=6, at=T0 + HOUR)
    assert again == []
    rows = store.notifications()
    assert sorted(r.target for r in rows) == ["log", "webhook:http://127.0.0.1:9/hook"]
    assert all(r.status == "pending" and r.attempts == 0 for r in rows)
    assert rows[0].payload == {"rule": "missiles", "article_id": "a" * 16, "event": "new"}
    assert store.cursor("watch") == 6
    assert store.outbox_counts() == {"pending": 2, "delivered": 0, "given_up": 0}


def test_another_version_or_rule_is_another_match(store: MonitorStore) -> None:
    store.record_matches([match()], at=T0)
    stored = store.record_matches(
        [match(version=2, event="edited"), match(rule="nuclear"), match(event="gone")], at=T0
    )
    assert sorted((m.rule, m.dedup) for m in stored) == [
        ("missiles", "gone:7"),
        ("missiles", "v2"),
        ("nuclear", "v1"),
    ]
    assert store.matched_rules("a" * 16) == {"missiles", "nuclear"}
    assert [m.dedup for m in store.matches("missiles")] == ["gone:7", "v2", "v1"]  # newest first


def test_the_cursor_never_goes_back(store: MonitorStore) -> None:
    assert store.cursor("watch") is None
    store.advance_cursor("watch", 10, T0)
    store.advance_cursor("watch", 4, T0 + HOUR)
    assert store.cursor("watch") == 10
    store.advance_cursor("watch", 11, T0 + HOUR)
    assert store.cursor("watch") == 11


def test_delivery_attempts(store: MonitorStore) -> None:
    store.record_matches([match(targets=("log", "webhook:http://h/", "email:a@b.org"))], at=T0)
    due = store.claim_due(T0, lease_until=T0 + 5 * MINUTE)
    assert len(due) == 3
    assert store.claim_due(T0 + MINUTE, lease_until=T0 + 6 * MINUTE) == []  # leased
    log, hook, mail = due
    store.finish_attempt(log.id, at=T0)
    store.finish_attempt(hook.id, at=T0, error="connection refused", retry_at=T0 + MINUTE)
    store.finish_attempt(mail.id, at=T0, error="550 no such user")
    assert store.outbox_counts() == {"pending": 1, "delivered": 1, "given_up": 1}
    (retry,) = store.claim_due(T0 + MINUTE, lease_until=T0 + 2 * MINUTE)
    assert (retry.id, retry.attempts, retry.last_error) == (hook.id, 1, "connection refused")
    store.finish_attempt(retry.id, at=T0 + MINUTE)
    delivered = store.notifications(status="delivered")
    assert {n.id for n in delivered} == {log.id, hook.id}
    assert next(n for n in delivered if n.id == hook.id).delivered_at == T0 + MINUTE
    # A finished row is not changed by a late duplicate report.
    store.finish_attempt(hook.id, at=T0 + HOUR, error="late")
    assert store.outbox_counts()["given_up"] == 1


def test_health_notifications_without_a_match(store: MonitorStore) -> None:
    alarm = store.raise_alarm("kcna", "quiet", "no new article for 1d", T0)
    assert alarm is not None
    ids = store.enqueue(
        rule="health",
        event="alarm",
        targets=["log", "log"],
        payload={"alarm": "quiet"},
        at=T0,
        alarm_id=alarm.id,
    )
    assert len(ids) == 1
    (row,) = store.notifications(rule="health")
    assert (row.alarm_id, row.match_id, row.event) == (alarm.id, None, "alarm")


def test_one_active_alarm_per_source_and_kind(store: MonitorStore) -> None:
    raised = store.raise_alarm("kcna", "empty-listing", "3 listings empty", T0)
    assert raised is not None and raised.since == T0
    assert store.raise_alarm("kcna", "empty-listing", "4 listings empty", T0 + HOUR) is None
    assert store.raise_alarm("kcnawatch", "empty-listing", "1 listing empty", T0) is not None
    (active,) = store.active_alarms("kcna")
    assert (active.message, active.since, active.checked_at) == (
        "4 listings empty",
        T0,
        T0 + HOUR,
    )
    cleared = store.clear_alarm("kcna", "empty-listing", T0 + 2 * HOUR)
    assert cleared is not None and cleared.cleared_at == T0 + 2 * HOUR
    assert store.clear_alarm("kcna", "empty-listing", T0 + 2 * HOUR) is None
    again = store.raise_alarm("kcna", "empty-listing", "again", T0 + 3 * HOUR)
    assert again is not None and again.id != raised.id
    assert [a.source for a in store.active_alarms()] == ["kcnawatch", "kcna"]
    assert len(store.alarm_history()) == 3


def test_run_stats_and_run_figures(repo: Repository, store: MonitorStore) -> None:
    first = repo.start_run("kcna", T0)
    repo.finish_run(
        first,
        finished_at=T0 + MINUTE,
        status="ok",
        pages=10,
        new=3,
        changed=1,
        unchanged=6,
        failures=0,
    )
    second = repo.start_run("kcna", T0 + HOUR)
    repo.finish_run(
        second,
        finished_at=T0 + HOUR + MINUTE,
        status="ok",
        pages=4,
        new=0,
        changed=0,
        unchanged=2,
        failures=2,
    )
    failed = repo.start_run("kcnawatch", T0)
    repo.finish_run(
        failed,
        finished_at=T0 + MINUTE,
        status="failed",
        pages=0,
        new=0,
        changed=0,
        unchanged=0,
        failures=1,
    )
    stats = RunStats(listing_pages=2, empty_listings=1, articles_parsed=6, parse_failures=2)
    store.save_run_stats(first, RunStats(listing_pages=2), T0)
    store.save_run_stats(first, stats, T0 + MINUTE)  # replaced
    assert store.run_stats([first, second]) == {first: stats}
    assert stats.pages_parsed == 10

    assert store.last_new_article_at("kcna") == T0 + MINUTE
    assert store.last_new_article_at("kcnawatch") is None
    assert store.first_run_at("kcna") == T0
    assert store.last_success() == {"kcna": T0 + HOUR + MINUTE}
    totals = {(t.source, t.status): t for t in store.run_totals()}
    assert totals["kcna", "ok"].runs == 2 and totals["kcna", "ok"].pages == 14
    assert totals["kcna", "ok"].failures == 2 and totals["kcnawatch", "failed"].runs == 1


def test_run_stats_from_scrapy_counters() -> None:
    stats = RunStats.from_scrapy(
        {
            "kcna_monitor/listing_pages": 3,
            "kcna_monitor/empty_listings": 1,
            "kcna_monitor/articles_parsed": 20,
            "kcna_monitor/parse_failures": 2,
            "kcna_monitor/not_an_article": 1,
            "downloader/response_count": 30,
        }
    )
    assert stats == RunStats(3, 1, 20, 2, 1, 0)


def test_ping_names_an_unreachable_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from storage.db import make_engine

    engine = make_engine("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(DatabaseUnavailable, match="cannot open database"):
        MonitorStore(engine).ping()


def test_last_url_first_seen_by_site(repo: Repository, store: MonitorStore) -> None:
    from tests.storage_helpers import make_item, watch_url

    repo.save_articles([make_item(1, seen_at=T0), make_item(2, seen_at=T0 + HOUR)])
    repo.save_articles([make_item(3, url=watch_url(3), seen_at=T0 + 2 * HOUR)])
    kcna = ["http://www.kcna.kp/", "https://www.kcna.kp/"]
    assert store.last_url_first_seen(kcna) == T0 + HOUR
    assert store.last_url_first_seen(["https://kcnawatch.org/"]) == T0 + 2 * HOUR
    assert store.last_url_first_seen(["http://other.example/"]) is None
    assert store.last_url_first_seen([]) is None


def test_recent_events_and_counts(repo: Repository, store: MonitorStore) -> None:
    from tests.storage_helpers import make_item

    repo.save_articles([make_item(1), make_item(2)])
    repo.save_articles(
        [make_item(1, text="Pyongyang, March 1 (KCNA) -- Edited.", seen_at=T0 + HOUR)]
    )
    kinds = [(e.kind, e.version) for e in store.recent_events(["new", "edited"], limit=2)]
    assert kinds == [("edited", 2), ("new", 1)]
    assert store.event_counts() == {"new": 2, "edited": 1}
