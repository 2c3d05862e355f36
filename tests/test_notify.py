"""Notification delivery: webhooks that come up late, retries with backoff, giving up, an
SMTP server on 127.0.0.1, the outbox kept across restarts; on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta
from email import message_from_bytes
from email.message import Message

import pytest

from scheduler.config import validate
from scheduler.configtypes import ConfigError
from scheduler.monitor.notify.settings import DeliveryPolicy
from scheduler.monitor.outbox import Monitor
from storage.repository import Repository
from tests.monitor_helpers import Clock, monitoring, smtp_server, webhook_receiver
from tests.storage_helpers import HOUR, T0, make_item, notifications

SECOND = timedelta(seconds=1)
MISSILE_TEXT = "Pyongyang, March 1 (KCNA) -- A hypersonic missile was test-fired."


def rule(*targets: str) -> dict:
    return {"name": "missiles", "match": "missile", "notify": list(targets)}


def test_a_webhook_that_is_down_at_first_gets_the_notification_when_it_comes_up(
    repo: Repository,
) -> None:
    clock = Clock(T0)
    with webhook_receiver() as hook:
        watcher = Monitor(
            repo, monitoring([rule(f"webhook:{hook.url}")]), sources=["kcna"], clock=clock
        )
        [saved] = repo.articles.save([make_item(1, title="Missile test", text=MISSILE_TEXT)])
        report = watcher.after_run()  # the receiver refuses connections
        assert (report.delivery.delivered, report.delivery.retrying) == (0, 1)
        (row,) = notifications(repo.engine)
        assert row.status == "pending" and row.attempts == 1
        assert "cannot reach" in (row.last_error or "")
        assert row.next_attempt_at == T0 + 30 * SECOND

        hook.start()
        clock.advance(29 * SECOND)  # not due yet
        assert watcher.deliver().delivered == 0
        assert hook.received == []
        clock.advance(SECOND)
        assert watcher.deliver().delivered == 1
        (got,) = hook.received
    body = got["json"]
    assert got["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert {k: body[k] for k in ("rule", "event", "article_id", "title", "published")} == {
        "rule": "missiles",
        "event": "new",
        "article_id": saved.article_id,
        "title": "Missile test",
        "published": "2026-03-01",
    }
    assert body["url"] == make_item(1).url and "missile" in body["snippet"]
    (row,) = notifications(repo.engine)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 2, clock())
    clock.advance(HOUR)
    assert watcher.after_run().delivery.delivered == 0  # delivered once only


def test_backoff_doubles_up_to_a_cap_and_gives_up_after_the_configured_time(
    repo: Repository,
) -> None:
    clock = Clock(T0)
    with webhook_receiver() as hook:  # never starts
        config = monitoring(
            [rule(f"webhook:{hook.url}")],
            notify={"retry_first": "10s", "retry_max": "1m", "give_up_after": "5m"},
        )
        watcher = Monitor(repo, config, sources=[], clock=clock)
        repo.articles.save([make_item(1, text=MISSILE_TEXT)])
        watcher.evaluate()
        waits = []
        while True:
            watcher.deliver()
            (row,) = notifications(repo.engine)
            if row.status != "pending":
                break
            waits.append(row.next_attempt_at - clock())
            clock.now = row.next_attempt_at
    assert [w.total_seconds() for w in waits] == [10, 20, 40, 60, 60, 60, 50]
    assert row.status == "given_up" and row.attempts == 8
    assert clock() == T0 + timedelta(minutes=5)


def test_a_webhook_refusing_the_request_gives_up_at_once_a_failing_one_retries(
    repo: Repository,
) -> None:
    clock = Clock(T0)
    with webhook_receiver() as hook:
        hook.start()
        hook.answer(404)
        watcher = Monitor(repo, monitoring([rule(f"webhook:{hook.url}")]), sources=[], clock=clock)
        repo.articles.save([make_item(1, text=MISSILE_TEXT)])
        assert watcher.after_run().delivery.given_up == 1
        (row,) = notifications(repo.engine)
        assert (row.status, row.last_error) == ("given_up", "HTTP 404")

        hook.answer(503)
        clock.advance(HOUR)
        repo.articles.save([make_item(2, text=MISSILE_TEXT + " Again.", seen_at=clock())])
        assert watcher.after_run().delivery.retrying == 1
        hook.answer(200)
        clock.advance(HOUR)
        assert watcher.deliver().delivered == 1
    assert len(hook.received) == 1


def test_the_outbox_survives_a_restart(repo: Repository) -> None:
    clock = Clock(T0)
    with webhook_receiver() as hook:
        config = monitoring([rule(f"webhook:{hook.url}", "log")])
        first = Monitor(repo, config, sources=[], clock=clock)
        repo.articles.save([make_item(1, text=MISSILE_TEXT)])
        first.after_run()  # the log target is delivered, the webhook waits
        del first
        hook.start()
        clock.advance(HOUR)
        second = Monitor(repo, config, sources=[], clock=clock)  # the daemon restarted
        report = second.after_run()
        assert (report.matches, report.delivery.delivered) == ([], 1)
    assert len(hook.received) == 1
    statuses = {r.target: r.status for r in notifications(repo.engine)}
    assert statuses == {"log": "delivered", f"webhook:{hook.url}": "delivered"}


def test_the_log_target_writes_one_line(repo: Repository, caplog: pytest.LogCaptureFixture) -> None:
    watcher = Monitor(repo, monitoring([rule("log")]), sources=[], clock=Clock(T0))
    [saved] = repo.articles.save([make_item(1, title="Missile\nlaunch", text=MISSILE_TEXT)])
    with caplog.at_level(logging.INFO, logger="notify"):
        assert watcher.after_run().delivery.delivered == 1
    (line,) = [r.getMessage() for r in caplog.records if r.name == "notify"]
    assert line.startswith(f'watch "missiles": new article {saved.article_id} "Missile launch"')


def _mail(data: bytes) -> Message:
    return message_from_bytes(data)


def test_an_smtp_server_on_localhost_receives_the_email(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    clock = Clock(T0)
    with smtp_server() as (port, state):
        config = monitoring(
            [rule("email:analyst@example.org")],
            smtp={
                "host": "127.0.0.1",
                "port": port,
                "from": "kcna-monitor <monitor@example.org>",
                "username": "monitor",
                "password_env": "TEST_SMTP_PASSWORD",
            },
        )
        watcher = Monitor(repo, config, sources=[], clock=clock)
        repo.articles.save([make_item(1, title="ICBM <b>launch</b>", text=MISSILE_TEXT)])
        assert watcher.after_run().delivery.delivered == 1
        assert state.got.wait(10)
        (mail,) = state.mails
    assert mail.recipients == ["analyst@example.org"]
    assert mail.sender == "monitor@example.org"
    assert mail.login == ("monitor", "s3cret")
    message = _mail(mail.data)
    assert message["Subject"] == "[kcna-monitor] missiles: new: ICBM <b>launch</b>"
    assert message.get_content_type() == "text/plain"
    text = message.get_payload(decode=True).decode()
    assert 'Watch rule "missiles" matched a new article.' in text
    assert f"URL:       {make_item(1).url}" in text
    assert "hypersonic missile" in text


def test_a_refused_recipient_gives_up_and_a_down_server_retries(repo: Repository) -> None:
    clock = Clock(T0)
    with smtp_server() as (port, state):
        state.refuse_recipients = True
        config = monitoring(
            [rule("email:nobody@example.org")],
            smtp={"host": "127.0.0.1", "port": port, "from": "monitor@example.org"},
        )
        watcher = Monitor(repo, config, sources=[], clock=clock)
        repo.articles.save([make_item(1, text=MISSILE_TEXT)])
        assert watcher.after_run().delivery.given_up == 1
    (row,) = notifications(repo.engine)
    assert "550" in (row.last_error or "")
    # The server is gone now: connection refused is worth retrying.
    clock.advance(HOUR)
    repo.articles.save([make_item(2, text=MISSILE_TEXT + " Again.", seen_at=clock())])
    assert watcher.after_run().delivery.retrying == 1


def test_smtp_and_notify_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert validate({}).monitoring.smtp is None
    server = {"host": "mail.example.org", "from": "m@example.org", "starttls": True}
    smtp = validate({"smtp": server}).monitoring.smtp
    assert smtp is not None and smtp.port == 587 and smtp.starttls
    for raw, message in [
        ({"from": "m@example.org"}, r"^smtp\.host: missing"),
        ({"host": "h", "from": "nobody"}, r'^smtp\.from: not an email address: "nobody"'),
        ({"host": "h", "from": "m@e.org", "password": "x"}, r"^smtp\.password: unknown key"),
        ({"host": "h", "from": "m@e.org", "port": 70000}, r"^smtp\.port: 70000 is too large"),
        (
            {"host": "h", "from": "m@e.org", "username": "u", "password_env": "NOPE_UNSET"},
            r"^smtp\.password_env: the environment variable NOPE_UNSET is not set",
        ),
        ({"host": "h", "from": "m@e.org", "ssl": True, "starttls": True}, r"^smtp: give either"),
    ]:
        with pytest.raises(ConfigError, match=message):
            validate({"smtp": raw})
    assert validate({}).monitoring.notify == DeliveryPolicy()
    policy = validate({"notify": {"give_up_after": "1d", "retry_first": "1m"}}).monitoring.notify
    assert policy.give_up_after == timedelta(days=1) and policy.retry_delay(3) == 4 * 60 * SECOND
    with pytest.raises(ConfigError, match=r"^notify\.retry_max: 10s is shorter than"):
        validate({"notify": {"retry_first": "1m", "retry_max": "10s"}})
    with pytest.raises(ConfigError, match=r'^notify\.timeout: bad duration "soon"'):
        validate({"notify": {"timeout": "soon"}})
