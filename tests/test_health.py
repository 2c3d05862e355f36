"""Source health: a quiet source, a layout change (empty listings, parse failures) raise an
alarm once, notify it, and clear it; on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from scheduler.config import validate
from scheduler.configtypes import ConfigError
from scheduler.daemon.status import alarm_lines
from scheduler.monitor.health import (
    EMPTY_LISTINGS,
    MASS_CHANGES,
    PARSE_FAILURES,
    QUIET,
    alarms_json,
)
from scheduler.monitor.outbox import Monitor
from storage.records import RunStats
from storage.repository import Repository
from tests.monitor_helpers import Clock, monitoring, webhook_receiver
from tests.storage_helpers import DAY, HOUR, T0, make_item, notifications

MINUTE = timedelta(minutes=1)


def crawl(repo: Repository, clock: Clock, stats: RunStats, *, new: int = 0) -> int:
    """A finished run of kcna with these parse counters, ``new`` articles stored by it."""
    run = repo.runs.start("kcna", clock())
    if new:
        start = 100 + run * 10
        repo.articles.save([make_item(n, seen_at=clock()) for n in range(start, start + new)])
    repo.runs.finish(
        run,
        finished_at=clock() + MINUTE,
        status="ok",
        pages=stats.pages_parsed,
        new=new,
        changed=0,
        unchanged=0,
        failures=stats.parse_failures,
    )
    repo.runs.save_stats(run, stats, clock() + MINUTE)
    return run


def kinds(repo: Repository) -> list[tuple[str, str]]:
    return [(a.source, a.kind) for a in repo.alarms.active()]


GOOD = RunStats(listing_pages=3, empty_listings=0, articles_parsed=12)
EMPTY = RunStats(listing_pages=3, empty_listings=3, articles_parsed=0)


def test_a_layout_change_raises_the_alarm_once_notifies_it_and_clears_it(
    repo: Repository, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(T0)
    with webhook_receiver() as hook:
        hook.start()
        config = monitoring([], health={"notify": [f"webhook:{hook.url}", "log"]})
        watcher = Monitor(repo, config, sources=["kcna"], clock=clock)
        crawl(repo, clock, GOOD, new=2)
        assert watcher.after_run().alarms == []

        clock.advance(HOUR)  # the site changed its markup: listings parse to nothing
        run = crawl(repo, clock, EMPTY)
        with caplog.at_level(logging.WARNING, logger="health"):
            report = watcher.after_run()
        assert [(c.alarm.kind, c.raised) for c in report.alarms] == [(EMPTY_LISTINGS, True)]
        assert kinds(repo) == [("kcna", EMPTY_LISTINGS)]
        assert f"kcna: empty-listings alarm: run {run}: all 3 listing pages parsed to no" in (
            caplog.text
        )
        (sent,) = hook.received
        assert {k: sent["json"][k] for k in ("type", "event", "source", "alarm")} == {
            "type": "health",
            "event": "alarm",
            "source": "kcna",
            "alarm": EMPTY_LISTINGS,
        }

        for _ in range(3):  # still broken: no second alarm, no second notification
            clock.advance(HOUR)
            crawl(repo, clock, EMPTY)
            assert watcher.after_run().alarms == []
        # A run that parsed no listing (all "not modified") says nothing either way.
        clock.advance(HOUR)
        crawl(repo, clock, RunStats(articles_parsed=0))
        assert watcher.after_run().alarms == [] and kinds(repo) == [("kcna", EMPTY_LISTINGS)]

        clock.advance(HOUR)  # fixed
        crawl(repo, clock, GOOD, new=1)
        report = watcher.after_run()
        assert [(c.alarm.kind, c.raised) for c in report.alarms] == [(EMPTY_LISTINGS, False)]
        assert repo.alarms.active() == []
        assert [r["json"]["event"] for r in hook.received] == ["alarm", "cleared"]
    assert [n.status for n in notifications(repo.engine, rule="health")] == [
        "delivered",
        "delivered",
    ]


def test_a_listing_that_was_always_empty_is_no_alarm(repo: Repository) -> None:
    clock = Clock(T0)
    watcher = Monitor(repo, monitoring([]), sources=["kcna"], clock=clock)
    for _ in range(3):
        crawl(repo, clock, RunStats(listing_pages=1, empty_listings=1), new=0)
        clock.advance(HOUR)
    assert [c.alarm.kind for c in watcher.after_run().alarms if c.raised] == []


def test_many_pages_failing_to_parse_raise_the_parse_failure_alarm(repo: Repository) -> None:
    clock = Clock(T0)
    watcher = Monitor(
        repo, monitoring([], health={"parse_failure_share": 0.3}), sources=["kcna"], clock=clock
    )
    crawl(repo, clock, RunStats(listing_pages=1, articles_parsed=9, parse_failures=1), new=2)
    assert watcher.check_health() == []
    clock.advance(HOUR)  # too few pages to judge
    crawl(repo, clock, RunStats(listing_pages=1, articles_parsed=0, parse_failures=3))
    assert watcher.check_health() == []
    clock.advance(HOUR)
    run = crawl(repo, clock, RunStats(listing_pages=2, articles_parsed=3, parse_failures=5))
    (change,) = watcher.check_health()
    assert change.raised and change.alarm.kind == PARSE_FAILURES
    assert change.alarm.message == (
        f"run {run}: 5 of 10 pages (50%) failed to parse, above 30% (has the layout changed?)"
    )
    assert alarms_json(repo.alarms.active())[0]["alarm"] == PARSE_FAILURES
    line = alarm_lines(alarms_json(repo.alarms.active()))[0]
    assert line.startswith("alarm      kcna parse-failures since")
    clock.advance(HOUR)
    crawl(repo, clock, RunStats(listing_pages=2, articles_parsed=8), new=1)
    assert [c.raised for c in watcher.check_health()] == [False]
    assert alarm_lines([]) == ["alarms     none"]


def test_a_quiet_source_raises_the_quiet_alarm(repo: Repository) -> None:
    clock = Clock(T0)
    config = monitoring(
        [], health={"quiet_after": "1d", "sources": {"kcnawatch": {"quiet_after": False}}}
    )
    watcher = Monitor(repo, config, sources=["kcna", "kcnawatch"], clock=clock)
    assert watcher.check_health() == []  # never crawled: nothing to say
    crawl(repo, clock, GOOD, new=1)
    clock.advance(DAY)
    assert watcher.check_health() == []
    clock.advance(HOUR)
    crawl(repo, clock, GOOD)  # runs go on, but nothing new
    (change,) = watcher.check_health()
    assert (change.alarm.source, change.alarm.kind) == ("kcna", QUIET)
    assert change.alarm.message.startswith("no new article for 1d59m (expected within 1d; last one")
    assert watcher.check_health() == []
    crawl(repo, clock, GOOD, new=1)
    assert [c.raised for c in watcher.check_health()] == [False]
    assert repo.alarms.active() == []


def changing_run(repo: Repository, clock: Clock, change: Callable[[], object]) -> int:
    """A finished run of kcna during which ``change`` changes the archive."""
    run = repo.runs.start("kcna", clock())
    clock.advance(MINUTE)
    change()
    clock.advance(MINUTE)
    repo.runs.finish(
        run,
        finished_at=clock(),
        status="ok",
        pages=1,
        new=0,
        changed=0,
        unchanged=0,
        failures=0,
    )
    return run


def test_a_mass_deletion_raises_the_mass_changes_alarm_once_and_clears_it(
    repo: Repository, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(T0)
    config = monitoring([], health={"mass_change_share": 0.15})
    watcher = Monitor(repo, config, sources=["kcna"], clock=clock)
    saved = repo.articles.save([make_item(n, seen_at=clock()) for n in range(1, 31)])
    ids = [result.article_id for result in saved]
    clock.advance(HOUR)
    changing_run(repo, clock, lambda: None)
    assert watcher.after_run().alarms == []

    clock.advance(HOUR)  # a purge: a fifth of the archive deleted
    purge = ids[:6]
    run = changing_run(
        repo, clock, lambda: repo.crawl_state.mark_gone(purge, at=clock(), reason="HTTP 404")
    )
    with caplog.at_level(logging.WARNING, logger="health"):
        report = watcher.after_run()
    assert [(c.alarm.kind, c.raised) for c in report.alarms] == [(MASS_CHANGES, True)]
    (alarm,) = repo.alarms.active()
    first, second = sorted(purge)[:2]  # marked in the order of their ids
    assert alarm.message.startswith(
        f"run {run}: 6 articles changed at once (6 gone, 0 edited; 20% of 30 stored),"
        f" above 15% of the archive; e.g. {first} gone (HTTP 404); {second} gone"
    )
    assert f"kcna: mass-changes alarm: run {run}: 6 articles" in caplog.text

    clock.advance(HOUR)  # one more deletion, under the limits: the alarm clears
    changing_run(
        repo, clock, lambda: repo.crawl_state.mark_gone(ids[6:7], at=clock(), reason="HTTP 410")
    )
    report = watcher.after_run()
    assert [(c.alarm.kind, c.raised) for c in report.alarms] == [(MASS_CHANGES, False)]
    assert repo.alarms.active() == []


def test_many_edits_raise_the_mass_changes_alarm_by_number(repo: Repository) -> None:
    clock = Clock(T0)
    config = monitoring([], health={"mass_changes": 3, "mass_change_share": False})
    watcher = Monitor(repo, config, sources=["kcna"], clock=clock)
    repo.articles.save([make_item(n, seen_at=clock()) for n in range(1, 101)])
    clock.advance(HOUR)

    def edit(count: int, how: str) -> None:
        texts = [f"{how} {n}." for n in range(1, count + 1)]
        repo.articles.save([make_item(n, text=t, seen_at=clock()) for n, t in enumerate(texts, 1)])

    changing_run(repo, clock, lambda: edit(3, "Rewritten"))  # three: not more than three
    assert watcher.after_run().alarms == []
    clock.advance(HOUR)
    run = changing_run(repo, clock, lambda: edit(4, "Rewritten again"))
    (change,) = watcher.after_run().alarms
    assert change.alarm.message.startswith(
        f"run {run}: 4 articles changed at once (0 gone, 4 edited; 4% of 100 stored),"
        " more than 3; e.g. "
    )


def test_health_configuration() -> None:
    health = {
        "quiet_after": "12h",
        "min_pages": 10,
        "sources": {"kcnawatch": {"quiet_after": "2d"}},
    }
    config = validate({"health": health}).monitoring.health
    assert config.of("kcna").quiet_after == timedelta(hours=12)
    assert config.of("kcnawatch").quiet_after == timedelta(days=2)
    assert config.of("kcnawatch").min_pages == 10
    assert (config.of("kcna").mass_changes, config.of("kcna").mass_change_share) == (50, 0.1)
    off = validate({"health": {"mass_changes": False, "mass_change_share": False}})
    assert (off.monitoring.health.mass_changes, off.monitoring.health.mass_change_share) == (
        None,
        None,
    )
    for raw, message in [
        ({"quiet": "1d"}, r"^health\.quiet: unknown key"),
        ({"parse_failure_share": 50}, r"^health\.parse_failure_share: expected a number above 0"),
        ({"sources": {"rodong": {}}}, r"^health\.sources\.rodong: unknown source"),
        ({"sources": {"kcna": {"notify": []}}}, r"^health\.sources\.kcna\.notify: unknown key"),
        ({"quiet_after": "soon"}, r'^health\.quiet_after: bad duration "soon"'),
        ({"mass_changes": -1}, r"^health\.mass_changes: expected a whole number of at least 0"),
        ({"mass_change_share": 2}, r"^health\.mass_change_share: expected a number above 0"),
        ({"notify": ["email:x@example.org"]}, r"^health\.notify\[0\]: email needs an \[smtp\]"),
    ]:
        with pytest.raises(ConfigError, match=message):
            validate({"health": raw})
