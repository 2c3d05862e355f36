"""The notification outbox, on SQLite and PostgreSQL: watch matches stored and queued once,
the watch cursor, delivery attempts, and health notifications without a match."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine

from storage.records import MatchInput
from storage.repository import Repository
from tests.storage_helpers import HOUR, T0, notifications

MINUTE = timedelta(minutes=1)


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


def test_a_match_is_stored_and_queued_once(repo: Repository, engine: Engine) -> None:
    first = repo.outbox.record_matches([match()], cursor="watch", event_id=5, at=T0)
    assert [m.rule for m in first] == ["missiles"]
    again = repo.outbox.record_matches([match(), match()], cursor="watch", event_id=6, at=T0 + HOUR)
    assert again == []
    rows = notifications(engine)
    assert sorted(r.target for r in rows) == ["log", "webhook:http://127.0.0.1:9/hook"]
    assert all(r.status == "pending" and r.attempts == 0 for r in rows)
    assert rows[0].payload == {"rule": "missiles", "article_id": "a" * 16, "event": "new"}
    assert repo.outbox.cursor("watch") == 6
    assert repo.outbox.counts() == {"pending": 2, "delivered": 0, "given_up": 0}


def test_another_version_or_rule_is_another_match(repo: Repository) -> None:
    repo.outbox.record_matches([match()], at=T0)
    stored = repo.outbox.record_matches(
        [match(version=2, event="edited"), match(rule="nuclear"), match(event="gone")], at=T0
    )
    assert sorted((m.rule, m.dedup) for m in stored) == [
        ("missiles", "gone:7"),
        ("missiles", "v2"),
        ("nuclear", "v1"),
    ]
    assert repo.outbox.matched_rules("a" * 16) == {"missiles", "nuclear"}
    newest_first = ["gone:7", "v2", "v1"]
    assert [m.dedup for m in repo.outbox.matches("missiles")] == newest_first


def test_the_cursor_never_goes_back(repo: Repository) -> None:
    assert repo.outbox.cursor("watch") is None
    repo.outbox.record_matches([], cursor="watch", event_id=10, at=T0)
    repo.outbox.record_matches([], cursor="watch", event_id=4, at=T0 + HOUR)
    assert repo.outbox.cursor("watch") == 10
    repo.outbox.record_matches([], cursor="watch", event_id=11, at=T0 + HOUR)
    assert repo.outbox.cursor("watch") == 11


def test_delivery_attempts(repo: Repository, engine: Engine) -> None:
    repo.outbox.record_matches(
        [match(targets=("log", "webhook:http://h/", "email:a@b.org"))], at=T0
    )
    due = repo.outbox.claim_due(T0, lease_until=T0 + 5 * MINUTE)
    assert len(due) == 3
    assert repo.outbox.claim_due(T0 + MINUTE, lease_until=T0 + 6 * MINUTE) == []  # leased
    log, hook, mail = due
    repo.outbox.finish_attempt(log.id, at=T0)
    repo.outbox.finish_attempt(hook.id, at=T0, error="connection refused", retry_at=T0 + MINUTE)
    repo.outbox.finish_attempt(mail.id, at=T0, error="550 no such user")
    assert repo.outbox.counts() == {"pending": 1, "delivered": 1, "given_up": 1}
    (retry,) = repo.outbox.claim_due(T0 + MINUTE, lease_until=T0 + 2 * MINUTE)
    assert (retry.id, retry.attempts, retry.last_error) == (hook.id, 1, "connection refused")
    repo.outbox.finish_attempt(retry.id, at=T0 + MINUTE)
    delivered = notifications(engine, status="delivered")
    assert {n.id for n in delivered} == {log.id, hook.id}
    assert next(n for n in delivered if n.id == hook.id).delivered_at == T0 + MINUTE
    # A finished row is not changed by a late duplicate report.
    repo.outbox.finish_attempt(hook.id, at=T0 + HOUR, error="late")
    assert repo.outbox.counts()["given_up"] == 1


def test_health_notifications_without_a_match(repo: Repository, engine: Engine) -> None:
    alarm = repo.alarms.raise_alarm("kcna", "quiet", "no new article for 1d", T0)
    assert alarm is not None
    ids = repo.outbox.enqueue(
        rule="health",
        event="alarm",
        targets=["log", "log"],
        payload={"alarm": "quiet"},
        at=T0,
        alarm_id=alarm.id,
    )
    assert len(ids) == 1
    (row,) = notifications(engine, rule="health")
    assert (row.alarm_id, row.match_id, row.event) == (alarm.id, None, "alarm")


def test_an_attempt_is_recorded_only_under_the_lease_it_was_claimed_with(
    repo: Repository,
) -> None:
    repo.outbox.record_matches([match(targets=("log",))], at=T0)
    (first,) = repo.outbox.claim_due(T0, lease_until=T0 + MINUTE, token="node-a")
    assert first.lease_token == "node-a"
    # Node a froze past its lease; node b claims the row again and delivers it.
    (again,) = repo.outbox.claim_due(T0 + 2 * MINUTE, lease_until=T0 + 3 * MINUTE, token="b")
    assert again.id == first.id
    assert repo.outbox.finish_attempt(again.id, at=T0 + 2 * MINUTE, token="b")
    # Node a comes back: its report is refused, the delivery stands.
    assert not repo.outbox.finish_attempt(first.id, at=T0 + 4 * MINUTE, error="x", token="node-a")
    assert repo.outbox.counts() == {"pending": 0, "delivered": 1, "given_up": 0}
