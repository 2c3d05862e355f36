"""Watch rules: configuration, matching, and one notification per article, rule and version
across runs and restarts; on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from scheduler.config import validate
from scheduler.configtypes import ConfigError
from scheduler.monitor.outbox import Monitor
from scheduler.monitor.watch import make_snippet
from storage.repository import Repository
from tests.monitor_helpers import Clock, monitoring
from tests.storage_helpers import DAY, HOUR, T0, make_item, notifications, watch_url

MISSILES = {"name": "missiles", "match": "missile|ICBM|hypersonic", "notify": ["log"]}
MISSILE_TEXT = "Pyongyang, March 1 (KCNA) -- A hypersonic MISSILE was test-fired on Sunday."
PLAIN_TEXT = "Pyongyang, March 1 (KCNA) -- Farmers met to discuss the spring sowing."


def monitor(repo: Repository, clock: Clock, *rules: dict) -> Monitor:
    return Monitor(repo, monitoring(list(rules or [MISSILES])), sources=["kcna"], clock=clock)


# -- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [{"name": "x", "match": "missile("}],
            r'^watch\[0\]\.match: bad regular expression "missile\(": missing \)',
        ),
        ([{"name": "x"}], r"^watch\[0\]\.match: missing"),
        ([{"name": "x", "match": "a", "when": 1}], r"^watch\[0\]\.when: unknown key \(allowed: "),
        (
            [{"name": "x", "match": "a"}, {"name": "x", "match": "b"}],
            r'^watch\[1\]\.name: another rule is named "x"',
        ),
        ([{"name": "x y", "match": "a"}], r'^watch\[0\]\.name: "x y" is not a rule name'),
        ([{"name": "x", "match": "a|"}], r'^watch\[0\]\.match: "a\|" matches the empty text'),
        (
            [{"name": "x", "match": "a", "sources": ["rodong"]}],
            r'^watch\[0\]\.sources\[0\]: unknown source "rodong" \(known: kcna, kcnawatch\)',
        ),
        (
            [{"name": "x", "match": "a", "notify": ["sms:123"]}],
            r'^watch\[0\]\.notify\[0\]: unknown target "sms:123"',
        ),
        (
            [{"name": "x", "match": "a", "notify": ["webhook:ftp://h/"]}],
            r"^watch\[0\]\.notify\[0\]: not an http\(s\) URL",
        ),
        (
            [{"name": "x", "match": "a", "notify": ["email:a@example.org"]}],
            r"^watch\[0\]\.notify\[0\]: email needs an \[smtp\] section",
        ),
        (
            [{"name": "x", "match": "a", "max_age": "a week"}],
            r'^watch\[0\]\.max_age: bad duration "a week"',
        ),
        ({"name": "x"}, r"^watch: expected \[\[watch\]\] tables"),
        (
            [{"name": "x", "event": "deleted"}],
            r'^watch\[0\]\.event\[0\]: unknown event "deleted" \(known: new, edited, gone\)',
        ),
        ([{"name": "x", "event": []}], r"^watch\[0\]\.event: expected an event or a list"),
    ],
)
def test_configuration_mistakes_are_one_line_naming_the_key(rules: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        validate({"watch": rules})
    assert "\n" not in str(caught.value)


def test_a_rule_with_every_key() -> None:
    config = validate(
        {
            "smtp": {"host": "127.0.0.1", "from": "monitor@example.org"},
            "watch": [
                {
                    "name": "missiles",
                    "match": "missile|ICBM",
                    "sources": ["kcna"],
                    "notify": [
                        "webhook:https://example.org/hook",
                        "log",
                        "log",
                        "email:someone@example.org",
                    ],
                    "max_age": False,
                }
            ],
        }
    ).monitoring
    (rule,) = config.watch
    assert rule.notify == ("webhook:https://example.org/hook", "log", "email:someone@example.org")
    assert rule.sources == ("kcna",) and rule.max_age is None
    assert rule.pattern.search("an icbm") is not None
    assert validate({}).monitoring.watch == ()


def test_snippets_show_the_match_in_context() -> None:
    text = (
        " ".join(f"word{n}" for n in range(100))
        + " ICBM "
        + " ".join(f"tail{n}" for n in range(100))
    )
    (rule,) = validate({"watch": [MISSILES]}).monitoring.watch
    snippet = rule.snippet("A title", text)
    assert snippet is not None and "ICBM" in snippet
    assert snippet.startswith("…word") and snippet.endswith("…")
    assert len(snippet) < 200
    assert rule.snippet("New ICBM\n tested", "No match in the text.") == "New ICBM tested"
    assert rule.snippet("Farming", "Sowing.") is None
    assert make_snippet("a missile", 2, 9) == "a missile"


# -- evaluation --------------------------------------------------------------------------


def test_a_rule_fires_once_per_article_across_runs_and_restarts(repo: Repository) -> None:
    clock = Clock(T0)
    repo.articles.save([make_item(1, text=MISSILE_TEXT), make_item(2, text=PLAIN_TEXT)])
    first = monitor(repo, clock)
    matches = first.evaluate()
    assert [(m.rule, m.event, m.version) for m in matches] == [("missiles", "new", 1)]
    assert "hypersonic MISSILE" in matches[0].snippet

    # More runs, the article seen again, another crawl storing nothing new.
    for _ in range(3):
        clock.advance(HOUR)
        repo.articles.save([make_item(1, text=MISSILE_TEXT, seen_at=clock())])
        assert first.evaluate() == []
    # A restart: a new monitor over the same database.
    assert monitor(repo, clock).evaluate() == []
    # Even with its cursor lost, a rule does not fire twice for the same version.
    with repo.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM watch_cursor")
    assert repo.outbox.cursor("watch") is None
    assert monitor(repo, clock).evaluate() == []
    assert len(notifications(repo.engine, rule="missiles")) == 1


def test_an_edit_that_matches_again_does_not_alert_the_same_version(repo: Repository) -> None:
    clock = Clock(T0)
    watcher = monitor(repo, clock)
    repo.articles.save([make_item(1, text=MISSILE_TEXT)])
    assert [m.version for m in watcher.evaluate()] == [1]

    clock.advance(HOUR)  # edited so that it no longer matches
    repo.articles.save([make_item(1, text=PLAIN_TEXT, seen_at=clock())])
    assert watcher.evaluate() == []

    clock.advance(HOUR)  # edited back: version 1 again, notified already
    repo.articles.save([make_item(1, text=MISSILE_TEXT, seen_at=clock())])
    assert watcher.evaluate() == []

    clock.advance(HOUR)  # a new version that matches is an edit worth telling
    edited = MISSILE_TEXT.replace("Sunday", "Monday")
    repo.articles.save([make_item(1, text=edited, seen_at=clock())])
    assert [(m.event, m.version) for m in watcher.evaluate()] == [("edited", 3)]

    rows = notifications(repo.engine, rule="missiles")
    assert [(r.event, r.payload["version"]) for r in rows] == [("new", 1), ("edited", 3)]


def test_the_notification_payload(repo: Repository) -> None:
    clock = Clock(T0 + DAY)
    [saved] = repo.articles.save([make_item(1, title="ICBM launch", text=MISSILE_TEXT)])
    monitor(repo, clock).evaluate()
    (row,) = notifications(repo.engine)
    assert row.target == "log" and row.status == "pending"
    assert row.payload == {
        "type": "watch",
        "rule": "missiles",
        "event": "new",
        "article_id": saved.article_id,
        "version": 1,
        "title": "ICBM launch",
        "url": make_item(1).url,
        "published": "2026-03-01",
        "source": "KCNA.kp (En)",
        "snippet": MISSILE_TEXT,
        "at": T0.isoformat(),
    }


def test_a_gone_article_notifies_the_rules_that_matched_it(repo: Repository) -> None:
    clock = Clock(T0)
    watcher = monitor(repo, clock, MISSILES, {"name": "farming", "match": "sowing"})
    [missile, _] = repo.articles.save(
        [make_item(1, text=MISSILE_TEXT), make_item(2, text=PLAIN_TEXT)]
    )
    assert {m.rule for m in watcher.evaluate()} == {"missiles", "farming"}
    clock.advance(DAY)
    repo.crawl_state.mark_gone([missile.article_id], at=clock(), reason="HTTP 404")
    gone = watcher.evaluate()
    assert [(m.rule, m.event, m.article_id) for m in gone] == [
        ("missiles", "gone", missile.article_id)
    ]
    assert watcher.evaluate() == []
    payloads = [r.payload["event"] for r in notifications(repo.engine, rule="missiles")]
    assert payloads == ["new", "gone"]


def test_a_rule_of_gone_events_notifies_every_deletion(repo: Repository) -> None:
    clock = Clock(T0)
    every = {"name": "deletions", "event": "gone", "notify": ["log"]}
    missiles = {"name": "missiles-gone", "event": ["gone"], "match": "missile"}
    watcher = monitor(repo, clock, every, missiles)
    assert [r.events for r in watcher.config.watch] == [("gone",), ("gone",)]
    saved = repo.articles.save([make_item(1, text=MISSILE_TEXT), make_item(2, text=PLAIN_TEXT)])
    assert watcher.evaluate() == []  # new articles: not their events
    clock.advance(DAY)
    ids = [result.article_id for result in saved]
    repo.crawl_state.mark_gone(ids, at=clock(), reason="HTTP 404")
    gone = watcher.evaluate()
    assert sorted((m.rule, m.event, m.article_id) for m in gone) == sorted(
        [
            ("deletions", "gone", ids[0]),
            ("deletions", "gone", ids[1]),
            ("missiles-gone", "gone", ids[0]),
        ]
    )
    assert watcher.evaluate() == []
    payloads = [r.payload["event"] for r in notifications(repo.engine, rule="deletions")]
    assert payloads == ["gone", "gone"]


def test_sources_and_age_limit_which_articles_a_rule_sees(repo: Repository) -> None:
    clock = Clock(T0)
    only_watch = {**MISSILES, "name": "on-watch", "sources": ["kcnawatch"]}
    watcher = monitor(repo, clock, MISSILES, only_watch)
    old = make_item(3, text=MISSILE_TEXT, published=date(2021, 5, 1))
    copy = make_item(4, url=watch_url(4), canonical_url=watch_url(4), text=MISSILE_TEXT + " Copy.")
    repo.articles.save([make_item(1, text=MISSILE_TEXT), old, copy])
    found = sorted((m.rule, m.url) for m in watcher.evaluate())
    assert found == [
        ("missiles", make_item(1).url),
        ("missiles", watch_url(4)),
        ("on-watch", watch_url(4)),
    ]  # the 2021 article came from a backfill: too old to notify
    clock.advance(HOUR)  # an edit of an old article is notified whatever its age
    repo.articles.save([replace(old, text=MISSILE_TEXT + " Edited.", seen_at=clock())])
    assert [(m.rule, m.event) for m in watcher.evaluate()] == [("missiles", "edited")]


def test_a_rule_without_targets_records_matches_for_its_feed(repo: Repository) -> None:
    clock = Clock(T0)
    watcher = monitor(repo, clock, {"name": "quiet-rule", "match": "missile"})
    repo.articles.save([make_item(1, text=MISSILE_TEXT)])
    assert len(watcher.evaluate()) == 1
    assert notifications(repo.engine) == [] and len(repo.outbox.matches("quiet-rule")) == 1


def test_events_are_read_in_batches(repo: Repository) -> None:
    from scheduler.monitor.watch import evaluate

    clock = Clock(T0)
    repo.articles.save([make_item(n, text=f"{MISSILE_TEXT} {n}") for n in range(1, 8)])
    matches = evaluate(repo, monitoring([MISSILES]).watch, clock(), batch=3)
    assert len(matches) == 7
    assert repo.outbox.cursor("watch") == repo.articles.latest_event_id()
    clock.advance(timedelta(minutes=1))
    assert evaluate(repo, monitoring([MISSILES]).watch, clock(), batch=3) == []


def test_an_event_committed_below_the_cursor_is_still_evaluated(repo: Repository) -> None:
    """On PostgreSQL a concurrent writer's event can commit after the cursor passed its id."""
    from scheduler.monitor.watch import evaluate

    clock = Clock(T0)
    repo.articles.save([make_item(1, text=MISSILE_TEXT)])
    rules = monitoring([MISSILES]).watch
    assert len(evaluate(repo, rules, clock())) == 1
    [second] = repo.articles.save([make_item(2, text=MISSILE_TEXT + " Again.")])
    # The cursor already stands at the late event's id, as when it moved past it first.
    repo.outbox.record_matches(
        [], cursor="watch", event_id=repo.articles.latest_event_id(), at=clock()
    )
    [late] = evaluate(repo, rules, clock())
    assert late.article_id == second.article_id
    assert evaluate(repo, rules, clock()) == []
