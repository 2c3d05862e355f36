"""Apprise targets: Apprise sends to receivers on 127.0.0.1 (``json://`` and ``form://`` to an
HTTP receiver, ``mailto://`` to an SMTP server) through the outbox, with its retries; secrets
come from the environment and are never shown; a receiver that never answers is given up on
after the notification timeout; the configuration checks the URLs with Apprise."""

from __future__ import annotations

import base64
import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest

from scheduler.config import parse_config, validate
from scheduler.configtypes import ConfigError
from scheduler.monitor.notify.apprise_channel import MASK, AppriseChannel
from scheduler.monitor.notify.delivery import Notifier
from scheduler.monitor.notify.payloads import AlarmPayload
from scheduler.monitor.outbox import Monitor
from storage.repository import Repository
from tests.monitor_helpers import (
    Clock,
    hanging_webhook,
    monitoring,
    smtp_server,
    webhook_receiver,
)
from tests.storage_helpers import HOUR, T0, make_item, notifications

ROOT = Path(__file__).resolve().parent.parent
SECOND = timedelta(seconds=1)
MISSILE_TEXT = "Pyongyang, March 1 (KCNA) -- A hypersonic missile was test-fired."
PASSWORD = "pa55-w0rd-from-env"
TOKEN = "123456789:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"


def rule(*targets: str) -> dict:
    return {"name": "missiles", "match": "missile", "notify": list(targets)}


def apprise_url(scheme: str, http_url: str, credentials: str = "") -> str:
    """``http://127.0.0.1:PORT/PATH`` as ``SCHEME://[CREDENTIALS@]127.0.0.1:PORT/PATH``."""
    return f"{scheme}://{credentials}{http_url.split('://', 1)[1]}"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def daemon_log(level: int) -> Iterator[list[logging.LogRecord]]:
    """The records the daemon's log gets at ``level``: those reaching the root logger (the
    ``caplog`` of pytest sees the loggers that do not propagate too)."""
    handler, root = _Records(), logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_a_json_receiver_down_at_first_gets_the_notification_once_on_retry(
    repo: Repository,
) -> None:
    clock = Clock(T0)
    with webhook_receiver() as hook:
        target = apprise_url("json", hook.url)
        watcher = Monitor(repo, monitoring([rule(target)]), sources=["kcna"], clock=clock)
        [saved] = repo.articles.save([make_item(1, title="Missile test", text=MISSILE_TEXT)])
        with daemon_log(logging.INFO) as records:
            report = watcher.after_run()  # connection refused
        assert (report.delivery.delivered, report.delivery.retrying) == (0, 1)
        (row,) = notifications(repo.engine)
        assert (row.target, row.status, row.attempts) == (target, "pending", 1)
        assert (row.last_error or "").startswith(f"{target}: A Connection error occurred")
        assert row.next_attempt_at == T0 + 30 * SECOND
        (line,) = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
        assert line.startswith(f"notification {row.id} (missiles) to {target} failed (attempt 1)")
        assert not [r for r in records if r.name.startswith(("apprise", "urllib3"))]

        hook.start()
        clock.advance(29 * SECOND)
        assert watcher.deliver().delivered == 0  # not due yet
        clock.advance(SECOND)
        assert watcher.deliver().delivered == 1
        clock.advance(HOUR)
        assert watcher.after_run().delivery.delivered == 0
        (got,) = hook.received  # exactly once
    assert got["path"] == "/hook"
    assert got["json"]["title"] == "[kcna-monitor] missiles: new: Missile test"
    assert got["json"]["type"] == "info"
    message = got["json"]["message"]
    assert 'Watch rule "missiles" matched a new article.' in message
    assert f"Article:   {saved.article_id} (version 1)" in message
    (row,) = notifications(repo.engine)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 2, T0 + 30 * SECOND)


def test_a_form_receiver_gets_the_password_from_the_environment_never_shown(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_APPRISE_PASSWORD", PASSWORD)
    clock = Clock(T0)
    with webhook_receiver() as hook:
        hook.start()
        hook.answer(503)
        target = apprise_url("form", hook.url_for("/form"), "monitor:${TEST_APPRISE_PASSWORD}@")
        watcher = Monitor(repo, monitoring([rule(target)]), sources=[], clock=clock)
        repo.articles.save([make_item(1, title="Missile test", text=MISSILE_TEXT)])
        with daemon_log(logging.DEBUG) as records:
            assert watcher.after_run().delivery.retrying == 1
        (row,) = notifications(repo.engine)
        assert row.target == target  # stored as written: the variable, not its value
        shown = apprise_url("form", hook.url_for("/form"), f"monitor:{MASK}@")
        assert row.last_error is not None and row.last_error.startswith(f"{shown}: ")
        assert "503" in row.last_error
        logged = "\n".join(r.getMessage() for r in records)
        assert f"to {shown} failed" in logged
        assert PASSWORD not in logged + row.last_error
        assert [r for r in hook.requests if r["status"] == 503]

        hook.answer(200)
        clock.advance(HOUR)
        assert watcher.deliver().delivered == 1
        (got,) = hook.received
    auth = base64.b64decode(got["headers"]["Authorization"].split(" ", 1)[1]).decode()
    assert auth == f"monitor:{PASSWORD}"
    assert got["form"]["title"] == ["[kcna-monitor] missiles: new: Missile test"]
    assert "hypersonic missile" in got["form"]["message"][0]


def test_mailto_reaches_an_smtp_server_on_localhost(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_APPRISE_PASSWORD", PASSWORD)
    with smtp_server() as (port, state):
        target = (
            f"mailto://monitor:${{TEST_APPRISE_PASSWORD}}@127.0.0.1:{port}"
            "?from=monitor@example.org&to=analyst@example.org"
        )
        watcher = Monitor(repo, monitoring([rule(target)]), sources=[], clock=Clock(T0))
        repo.articles.save([make_item(1, title="ICBM launch", text=MISSILE_TEXT)])
        assert watcher.after_run().delivery.delivered == 1
        assert state.got.wait(10)
        (mail,) = state.mails
    assert (mail.sender, mail.recipients) == ("monitor@example.org", ["analyst@example.org"])
    assert mail.login == ("monitor", PASSWORD)
    message = message_from_bytes(mail.data)
    assert message["Subject"] == "[kcna-monitor] missiles: new: ICBM launch"
    text = message.get_payload(decode=True).decode()
    assert f"URL:       {make_item(1).url}" in text and "hypersonic missile" in text


def test_a_receiver_that_never_answers_is_left_after_the_notify_timeout(
    repo: Repository,
) -> None:
    clock = Clock(T0)
    with hanging_webhook() as hanging:
        # Apprise alone would wait 60 s for the answer; the notification timeout is 500 ms.
        shown = apprise_url("json", hanging.url)
        target = shown + "?cto=60&rto=60"
        config = monitoring([rule(target)], notify={"timeout": "500ms"})
        watcher = Monitor(repo, config, sources=[], clock=clock)
        repo.articles.save([make_item(1, text=MISSILE_TEXT)])
        started = time.monotonic()
        report = watcher.after_run()
        took = time.monotonic() - started
        assert hanging.accepted.is_set()
    assert report.delivery.retrying == 1 and took < 30
    (row,) = notifications(repo.engine)
    assert (row.status, row.last_error) == ("pending", f"{shown}: no answer within 0.5s")


def test_a_secret_written_in_the_url_is_masked_where_it_is_shown() -> None:
    channel = AppriseChannel()
    assert channel.describe(f"tgram://{TOKEN}/-1001234") == "tgram://1...8/-1001234/"
    assert channel.describe("json://user:hunter22@127.0.0.1:9/hook") == (
        f"json://user:{MASK}@127.0.0.1:9/hook"
    )
    # A variable that is not set (any more): nothing of the URL is shown.
    assert Notifier().describe("tgram://${TEST_APPRISE_UNSET}/-1") == f"tgram://{MASK}"
    assert Notifier().describe("webhook:https://example.org/hook") == (
        "webhook:https://example.org/hook"
    )


def test_a_raised_alarm_is_an_apprise_warning() -> None:
    alarm = AlarmPayload(raised=True, source="kcna", alarm="quiet", message="nothing new", since=T0)
    with webhook_receiver() as hook:
        hook.start()
        AppriseChannel().send(apprise_url("json", hook.url), alarm)
        (got,) = hook.received
    assert got["json"]["type"] == "warning"
    assert got["json"]["title"] == "[kcna-monitor] kcna: quiet alarm"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("foo://x", r'unknown notification service "foo://" \(see https://'),
        ("https://example.org/x", r'"https://" is no service Apprise knows: .* "webhook:URL"'),
        ("tgram://not-a-token", r"not a valid tgram:// URL \(see https://"),
        ("tgram://${TEST_APPRISE_UNSET}/1", "the environment variable TEST_APPRISE_UNSET is not"),
        ("${TEST_APPRISE_TOKEN}", r"not an Apprise URL \(use e.g."),
        ("sms:123", r'unknown target "sms:123" \(use "log", .* or an Apprise URL'),
    ],
)
def test_an_apprise_url_that_cannot_be_used_is_a_one_line_config_error(
    target: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_APPRISE_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match=rf"^watch\[0\]\.notify\[1\]: {message}") as caught:
        validate({"watch": [rule("log", target)]})
    assert "\n" not in str(caught.value) and TOKEN not in str(caught.value)
    with pytest.raises(ConfigError, match=rf"^health\.notify\[0\]: {message}"):
        validate({"health": {"notify": [target]}})


def test_apprise_urls_are_targets_kept_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_APPRISE_TOKEN", TOKEN)
    targets = [
        "tgram://${TEST_APPRISE_TOKEN}/-1001234",
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
        "ntfys://ntfy.sh/kcna-alerts",
        "mailto://user:${TEST_APPRISE_TOKEN}@example.org?to=analyst@example.org",
        "webhook:https://example.org/hook",
        "log",
    ]
    config = validate({"watch": [rule(*targets)], "health": {"notify": targets[:1]}})
    assert config.monitoring.watch[0].notify == tuple(targets)
    assert config.monitoring.health.notify == tuple(targets[:1])


def test_a_configuration_without_apprise_targets_does_not_load_apprise() -> None:
    code = (
        "import sys\n"
        "from scheduler.config import parse_config\n"
        'parse_config(\'[[watch]]\\nname = "x"\\nmatch = "a"\\n'
        'notify = ["log", "webhook:https://example.org/hook"]\\n\')\n'
        "print('apprise' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"


def test_the_example_configuration_s_notifications_read_once_uncommented(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (ROOT / "contrib" / "config.example.toml").read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^# (?=\[|[a-z_]+ = |    |\])", "", text)
    assert "\n[[watch]]\n" in uncommented and "\n[smtp]\n" in uncommented
    for name in set(re.findall(r"\$\{(\w+)\}", uncommented)) | {"KCNA_MONITOR_SMTP_PASSWORD"}:
        monkeypatch.setenv(name, PASSWORD)
    monkeypatch.setenv("KCNA_MONITOR_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("KCNA_MONITOR_SLACK_TOKENS", "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ")
    (rule_,) = parse_config(uncommented).monitoring.watch
    assert [t for t in rule_.notify if "${" in t] == [
        "tgram://${KCNA_MONITOR_TELEGRAM_TOKEN}/-1001234567890",
        "slack://${KCNA_MONITOR_SLACK_TOKENS}/#dprk-watch",
        "ntfys://ntfy.sh/${KCNA_MONITOR_NTFY_TOPIC}",
        "mailto://monitor:${KCNA_MONITOR_MAIL_PASSWORD}@smtp.example.org?to=desk@example.org",
    ]
