"""The delivery of the outbox: :class:`Notifier` sends one notification to its target's
channel; :func:`deliver_due` sends the rows that are due, and records each attempt: delivered,
tried again after a growing pause (:meth:`DeliveryPolicy.retry_delay`), or given up.

Several daemons may deliver from one archive: each claims due rows under a lease of its own
(``FOR UPDATE SKIP LOCKED``, see :meth:`storage.outbox.Outbox.claim_due`), sends a row only
while enough of its lease is left for the send to end within it, and records the attempt
fenced by the lease's token. A lost connection to the database after a send is waited out
(the record is tried again until the lease nearly ends): the row is not sent a second time.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.configtypes import format_duration
from scheduler.monitor.notify.apprise_channel import AppriseChannel, is_service_url
from scheduler.monitor.notify.common import DeliveryError
from scheduler.monitor.notify.log import LogChannel
from scheduler.monitor.notify.mail import MailChannel
from scheduler.monitor.notify.payloads import PayloadError, read_payload
from scheduler.monitor.notify.settings import DeliveryPolicy, SmtpConfig
from scheduler.monitor.notify.webhook import WebhookChannel
from storage.errors import StorageError
from storage.outbox import Outbox
from storage.records import NotificationView

logger = logging.getLogger("notify")


class Notifier:
    """Sends one notification to one target; raises :class:`DeliveryError` when it cannot."""

    def __init__(
        self, smtp: SmtpConfig | None = None, *, timeout: timedelta = timedelta(seconds=10)
    ) -> None:
        self.log = LogChannel()
        self.webhook = WebhookChannel(timeout)
        self.mail = MailChannel(smtp)
        self.apprise = AppriseChannel(timeout)

    def describe(self, target: str) -> str:
        """``target`` as log lines show it: an Apprise URL with its secrets masked."""
        return self.apprise.describe(target) if is_service_url(target) else target

    def send(self, notification: NotificationView) -> None:
        target = notification.target
        kind, _, rest = target.partition(":")
        if kind == "webhook":
            self.webhook.post(rest, notification.payload)  # the stored JSON, as it is
            return
        service = is_service_url(target)
        if target != "log" and kind != "email" and not service:
            raise DeliveryError(f"unknown target {target!r}", permanent=True)
        try:
            payload = read_payload(notification.payload)
        except PayloadError as error:
            raise DeliveryError(str(error), permanent=True) from None
        if target == "log":
            self.log.send(payload)
        elif service:
            self.apprise.send(target, payload)
        else:
            self.mail.send(rest, payload)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    given_up: int = 0


def deliver_due(
    outbox: Outbox,
    notifier: Notifier,
    policy: DeliveryPolicy,
    clock: Callable[[], datetime],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Send every notification that is due now; returns what became of them.

    ``should_stop`` is asked before each notification: once it answers True, the rest are
    left as they are (those already leased are tried again when the lease ends).
    """
    report = DeliveryReport()
    while True:
        if should_stop is not None and should_stop():
            return report
        now = clock()
        lease = _Lease(outbox, uuid.uuid4().hex, now + policy.lease, clock)
        due = outbox.claim_due(now, lease_until=lease.until, limit=policy.batch, token=lease.token)
        for notification in due:
            if should_stop is not None and should_stop():
                return report
            if clock() + policy.timeout >= lease.until:
                return report  # too little lease left: the rest go out after it passes
            _attempt(lease, notifier, policy, clock, notification, report)
        if len(due) < policy.batch:
            return report


#: Seconds between two tries to record an attempt while the database cannot be reached.
RECORD_RETRY = 1.0


@dataclass
class _Lease:
    """The lease a batch of notifications is held under, and recording attempts with it."""

    outbox: Outbox
    token: str
    until: datetime
    clock: Callable[[], datetime]

    def record(
        self,
        notification_id: int,
        *,
        at: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record an attempt, through a database outage while the lease lasts; a record
        refused (another deliverer took the row over) is logged."""
        wait = threading.Event()
        while True:
            try:
                recorded = self.outbox.finish_attempt(
                    notification_id, at=at, error=error, retry_at=retry_at, token=self.token
                )
                break
            except StorageError as failure:
                if self.clock() + timedelta(seconds=RECORD_RETRY) >= self.until:
                    raise
                logger.warning(
                    "notification %d: recording it failed, retrying: %s", notification_id, failure
                )
                wait.wait(RECORD_RETRY)
        if not recorded:
            logger.warning(
                "notification %d: its attempt is not recorded: its lease passed and another"
                " deliverer took it over",
                notification_id,
            )


def _attempt(
    lease: _Lease,
    notifier: Notifier,
    policy: DeliveryPolicy,
    clock: Callable[[], datetime],
    notification: NotificationView,
    report: DeliveryReport,
) -> None:
    try:
        notifier.send(notification)
    except DeliveryError as error:
        now = clock()
        attempts = notification.attempts + 1
        deadline = notification.created_at + policy.give_up_after
        if error.permanent or now >= deadline:
            why = (
                "cannot succeed"
                if error.permanent
                else (f"failing for {format_duration(now - notification.created_at)}")
            )
            logger.error(
                "notification %d (%s) to %s given up after %d attempts (%s): %s",
                notification.id,
                notification.rule,
                notifier.describe(notification.target),
                attempts,
                why,
                error,
            )
            lease.record(notification.id, at=now, error=str(error))
            report.given_up += 1
            return
        retry_at = min(now + policy.retry_delay(attempts), deadline)
        logger.warning(
            "notification %d (%s) to %s failed (attempt %d), retrying in %s: %s",
            notification.id,
            notification.rule,
            notifier.describe(notification.target),
            attempts,
            format_duration(retry_at - now),
            error,
        )
        lease.record(notification.id, at=now, error=str(error), retry_at=retry_at)
        report.retrying += 1
        return
    lease.record(notification.id, at=clock())
    report.delivered += 1
