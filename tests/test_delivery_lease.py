"""Delivering under a lease, with the time given: a notification is not sent when too little
of the lease is left for the send to end within it, and an attempt is recorded through a
short database outage (so the row is not sent again once the lease passes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.monitor.notify import delivery
from scheduler.monitor.notify.delivery import deliver_due
from scheduler.monitor.notify.settings import DeliveryPolicy
from storage.errors import DatabaseUnavailable
from storage.records import NotificationView

T0 = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)


def row(number: int) -> NotificationView:
    return NotificationView(
        number, "all", "new", "log", None, None, None, {}, "pending", 0, T0, None, T0, None
    )


class Outbox:
    """Two due rows; ``failures`` recordings fail as if the database were away."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.recorded: list[tuple[int, str | None]] = []
        self.rows = [row(1), row(2)]

    def claim_due(self, now: datetime, **lease: Any) -> list[NotificationView]:
        rows, self.rows = self.rows, []
        return rows

    def finish_attempt(self, notification_id: int, **outcome: Any) -> bool:
        if self.failures:
            self.failures -= 1
            raise DatabaseUnavailable("connection refused")
        self.recorded.append((notification_id, outcome["token"]))
        return True


class Notifier:
    def __init__(self, clock: list[datetime], takes: timedelta) -> None:
        self.sent: list[int] = []
        self.clock, self.takes = clock, takes

    def send(self, notification: NotificationView) -> None:
        self.sent.append(notification.id)
        self.clock[0] += self.takes

    def describe(self, target: str) -> str:
        return target


def test_a_row_is_not_sent_when_its_lease_would_end_during_the_send() -> None:
    policy = DeliveryPolicy(timeout=timedelta(minutes=2))  # a lease of 8 minutes
    now = [T0]
    notifier = Notifier(now, takes=timedelta(minutes=7))
    outbox = Outbox()
    deliver_due(outbox, notifier, policy, lambda: now[0])  # type: ignore[arg-type]
    assert notifier.sent == [1]  # the second would end after the lease: left for later
    assert [number for number, _ in outbox.recorded] == [1]


def test_an_attempt_is_recorded_through_a_short_outage(monkeypatch: Any) -> None:
    monkeypatch.setattr(delivery, "RECORD_RETRY", 0.001)
    now = [T0]
    outbox = Outbox(failures=2)
    notifier = Notifier(now, takes=timedelta(seconds=1))
    deliver_due(outbox, notifier, DeliveryPolicy(), lambda: now[0])  # type: ignore[arg-type]
    assert notifier.sent == [1, 2]  # each once
    assert [number for number, _ in outbox.recorded] == [1, 2]
    assert len({token for _, token in outbox.recorded}) == 1  # under the batch's lease
