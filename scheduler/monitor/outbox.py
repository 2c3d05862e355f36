"""What the daemon does after each crawl run: evaluate watch rules on the new article
events and check the sources' health, which queues notifications in the outbox; and how
it delivers them, on a thread of its own (:class:`DeliveryWorker`) so that a slow or
hanging receiver never holds up a crawl.

The configuration sections it reads (``[[watch]]``, ``[smtp]``, ``[notify]``,
``[health]``) are :class:`scheduler.config.MonitoringConfig`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scheduler.config import MonitoringConfig
from scheduler.monitor.health import AlarmChange, check_health
from scheduler.monitor.notify.delivery import DeliveryReport, Notifier, deliver_due
from scheduler.monitor.watch import evaluate
from storage.errors import StorageError
from storage.records import MatchView
from storage.repository import Repository

logger = logging.getLogger("monitor")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class MonitorReport:
    matches: list[MatchView] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    alarms: list[AlarmChange] = field(default_factory=list)


class Monitor:
    """Watch rules, notifications and health checks over one archive.

    ``sources`` are the crawl sources whose health is checked (the enabled ones). Nothing
    here raises on a database outage: it is logged, and the work is picked up by the next
    call (the cursor and the outbox are in the database).
    """

    def __init__(
        self,
        repo: Repository,
        config: MonitoringConfig,
        *,
        sources: Sequence[str],
        clock: Callable[[], datetime] = utc_now,
        notifier: Notifier | None = None,
    ) -> None:
        self.repo = repo
        self.config = config
        self.sources = tuple(sources)
        self.clock = clock
        self.notifier = notifier or Notifier(config.smtp, timeout=config.notify.timeout)

    def evaluate(self) -> list[MatchView]:
        """Evaluate the watch rules on the article events not seen yet. A match is logged at
        DEBUG: its notifications say it (the ``log`` target in the daemon's log)."""
        matches = evaluate(self.repo, self.config.watch, self.clock())
        for match in matches:
            logger.debug(
                'watch "%s" matched %s article %s (version %d): %s',
                match.rule,
                match.event,
                match.article_id,
                match.version,
                match.title,
            )
        return matches

    def deliver(self, *, should_stop: Callable[[], bool] | None = None) -> DeliveryReport:
        """Send the notifications that are due (call it every minute or so as well: failed
        notifications are retried only when this runs). It may take as long as the
        receivers make it: ``should_stop`` is asked between two notifications."""
        return deliver_due(
            self.repo.outbox, self.notifier, self.config.notify, self.clock, should_stop=should_stop
        )

    def check_health(self) -> list[AlarmChange]:
        return check_health(self.repo, self.config.health, self.sources, self.clock())

    def check(self) -> MonitorReport:
        """Rules, then health: the notifications are queued in the outbox, not sent. Only
        database work, so it is quick whatever the receivers do."""
        return self._steps(
            ("evaluating watch rules", self._evaluate_into),
            ("checking source health", self._health_into),
        )

    def after_run(self) -> MonitorReport:
        """Everything, in order: rules, health (its alarms are notified too), delivery.
        The daemon calls :meth:`check` instead and delivers on another thread."""
        return self._steps(
            ("evaluating watch rules", self._evaluate_into),
            ("checking source health", self._health_into),
            ("delivering notifications", self._deliver_into),
        )

    def _steps(self, *steps: tuple[str, Callable[[MonitorReport], None]]) -> MonitorReport:
        report = MonitorReport()
        for name, step in steps:
            try:
                step(report)
            except StorageError as error:
                logger.error("%s: %s", name, error)
        return report

    def _evaluate_into(self, report: MonitorReport) -> None:
        report.matches = self.evaluate()

    def _health_into(self, report: MonitorReport) -> None:
        report.alarms = self.check_health()

    def _deliver_into(self, report: MonitorReport) -> None:
        report.delivery = self.deliver()


class DeliveryWorker:
    """Sends the due notifications on a thread of its own: at start, every ``every``
    seconds, and as soon as possible after :meth:`wake` (a run has queued some).

    ``monitor`` returns the :class:`Monitor` to deliver with, asked afresh each time (a
    reload replaces it; None: nothing to do). No lock is held while sending, so a receiver
    that takes long, or never answers, delays only the notifications behind it.
    """

    def __init__(
        self, monitor: Callable[[], Monitor | None], *, every: float, name: str = "deliver"
    ) -> None:
        self._monitor = monitor
        self.every = every
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._wake.set()  # what a previous daemon left due goes out at once
        self._thread.start()

    def wake(self) -> None:
        """Deliver soon (returns at once; a delivery under way is followed by another)."""
        self._wake.set()

    def stop(self, timeout: float) -> bool:
        """Stop after the notification being sent, waiting for it at most ``timeout``
        seconds; False when it was still being sent (it is tried again after its lease)."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            if self._stopping.is_set():
                return
            monitor = self._monitor()
            if monitor is None:
                continue
            try:
                monitor.deliver(should_stop=self._stopping.is_set)
            except Exception as error:  # the worker must outlive anything a delivery does
                logger.error("delivering notifications failed: %s", error)


class DaemonMonitoring:
    """The daemon's monitoring: after each run, watch rules and health checks (one run's at a
    time, never raising), then a wake-up of the delivery thread, which alone sends."""

    def __init__(self, *, every: float, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self._monitor: Monitor | None = None
        self._lock = threading.Lock()  # one source's after-run work at a time
        # Sends notifications; holds no lock, so a receiver that hangs delays no crawl.
        self._delivery = DeliveryWorker(lambda: self._monitor, every=every)

    def start(self, repo: Repository, config: MonitoringConfig, sources: Sequence[str]) -> None:
        """Check with this configuration, and start delivering (what is due goes at once)."""
        self.configure(repo, config, sources)
        self._delivery.start()

    def configure(self, repo: Repository, config: MonitoringConfig, sources: Sequence[str]) -> None:
        """From now on, check with this configuration (``sources``: the enabled ones)."""
        monitor = Monitor(repo, config, sources=sources, clock=self._clock)
        with self._lock:
            self._monitor = monitor

    def after_run(self) -> None:
        """Evaluate the rules and check health; a failure is logged, never raised."""
        with self._lock:
            if self._monitor is None:
                return
            try:
                self._monitor.check()
            except Exception as error:
                logger.error("after-run monitoring failed: %s", error)
        self._delivery.wake()

    def stop(self, wait: float) -> bool:
        """Stop delivering, waiting at most ``wait`` seconds for a notification being sent;
        False when it was still being sent (the next daemon sends it after its lease)."""
        stopped = self._delivery.stop(wait)
        if not stopped:
            logger.info(
                "stopping without waiting for the notification being sent: it is sent again"
                " once its lease has passed"
            )
        return stopped
