"""The typed payloads of notifications: rows stored by earlier versions read back unchanged,
and what each kind says in a mail subject, a mail body and a log line."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from scheduler.monitor.notify.common import DeliveryError
from scheduler.monitor.notify.delivery import Notifier
from scheduler.monitor.notify.payloads import (
    AlarmPayload,
    GonePayload,
    MatchPayload,
    PayloadError,
    read_payload,
)
from storage.records import NotificationView

AT = "2026-03-01T10:00:00+00:00"
#: As the outbox stores them (the keys every version wrote).
STORED_MATCH: dict[str, Any] = {
    "type": "watch",
    "rule": "missiles",
    "event": "new",
    "article_id": "a" * 16,
    "version": 1,
    "title": "ICBM\nlaunch",
    "url": "http://www.kcna.kp/en/article/q/1.kcmsd",
    "published": "2026-03-01",
    "source": "KCNA.kp (En)",
    "snippet": "A hypersonic missile was test-fired.",
    "at": AT,
}
STORED_ALARM: dict[str, Any] = {
    "type": "health",
    "event": "cleared",
    "source": "kcna",
    "alarm": "quiet",
    "message": "no new article for 1d 2h",
    "since": AT,
    "cleared_at": "2026-03-02T12:00:00+00:00",
}


def test_a_stored_watch_match_reads_back_as_it_was_written() -> None:
    payload = read_payload(STORED_MATCH)
    assert isinstance(payload, MatchPayload) and not payload.edited
    assert payload.published == date(2026, 3, 1)
    assert payload.at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert payload.to_json() == STORED_MATCH
    assert list(payload.to_json()) == list(STORED_MATCH)  # same key order in the JSON
    edited = read_payload({**STORED_MATCH, "event": "edited", "published": None})
    assert isinstance(edited, MatchPayload) and edited.edited and edited.published is None
    assert edited.to_json()["event"] == "edited"


def test_a_watch_match_in_a_mail_and_in_the_log() -> None:
    payload = read_payload(STORED_MATCH)
    assert payload.subject() == "[kcna-monitor] missiles: new: ICBM launch"
    assert payload.body() == (
        'Watch rule "missiles" matched a new article.\n'
        "\n"
        "Title:     ICBM launch\n"
        "Published: 2026-03-01\n"
        "URL:       http://www.kcna.kp/en/article/q/1.kcmsd\n"
        f"Article:   {'a' * 16} (version 1)\n"
        "Source:    KCNA.kp (En)\n"
        "\n"
        "A hypersonic missile was test-fired.\n"
    )
    assert payload.log_line() == (
        f'watch "missiles": new article {"a" * 16} "ICBM launch"'
        " http://www.kcna.kp/en/article/q/1.kcmsd — A hypersonic missile was test-fired."
    )
    assert payload.log_level == logging.INFO


def test_an_article_gone() -> None:
    stored = {**STORED_MATCH, "event": "gone", "snippet": "", "published": None}
    payload = read_payload(stored)
    assert isinstance(payload, GonePayload) and payload.to_json() == stored
    assert payload.subject() == "[kcna-monitor] missiles: gone: ICBM launch"
    body = payload.body()
    assert body.startswith('Watch rule "missiles" matched an article now gone.\n')
    assert "Published: unknown\n" in body and body.endswith("Source:    KCNA.kp (En)\n")


def test_a_health_alarm_raised_and_cleared() -> None:
    cleared = read_payload(STORED_ALARM)
    assert isinstance(cleared, AlarmPayload) and not cleared.raised
    assert cleared.to_json() == STORED_ALARM
    assert cleared.subject() == "[kcna-monitor] kcna: quiet cleared"
    assert cleared.body() == (
        "Source kcna: quiet cleared.\n"
        "\n"
        "no new article for 1d 2h\n"
        "\n"
        f"Since:   {AT}\n"
        "Cleared: 2026-03-02T12:00:00+00:00\n"
    )
    assert cleared.log_line() == "health kcna: quiet cleared: no new article for 1d 2h"
    raised = replace(cleared, raised=True, cleared_at=None)
    assert raised.to_json() == {**STORED_ALARM, "event": "alarm", "cleared_at": None}
    assert read_payload(raised.to_json()) == raised
    assert raised.subject() == "[kcna-monitor] kcna: quiet alarm"
    assert "Cleared:" not in raised.body()
    assert raised.log_level == logging.WARNING


@pytest.mark.parametrize(
    "stored",
    [
        {"rule": "missiles", "event": "new"},
        {**STORED_MATCH, "event": "back"},
        {**STORED_MATCH, "at": "yesterday"},
        {**STORED_ALARM, "event": "raised"},
    ],
)
def test_an_unreadable_payload_is_refused(stored: dict[str, Any]) -> None:
    with pytest.raises(PayloadError, match=r"^unreadable notification payload: "):
        read_payload(stored)


def _row(target: str, payload: dict[str, Any]) -> NotificationView:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    return NotificationView(
        id=1,
        rule="missiles",
        event="new",
        target=target,
        match_id=1,
        alarm_id=None,
        article_id="a" * 16,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=at,
        last_error=None,
        created_at=at,
        delivered_at=None,
    )


def test_a_row_whose_payload_cannot_be_read_cannot_be_sent_to_the_log() -> None:
    with pytest.raises(DeliveryError, match=r"^unreadable notification payload: no key") as raised:
        Notifier().send(_row("log", {"rule": "missiles"}))
    assert raised.value.permanent
