"""What the daemon does after each crawl run: evaluate watch rules on the new article
events and check the sources' health, which queues notifications in the outbox; and how
it delivers them, on a thread of its own (:class:`DeliveryWorker`) so that a slow or
hanging receiver never holds up a crawl.

The configuration sections it reads (``[[watch]]``, ``[smtp]``, ``[notify]``,
``[health]``) are parsed by :func:`parse_monitoring` from the TOML document.
"""

from __future__ import annotations

import logging
import os
import threading
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from scheduler.configcheck import WatchConfigError
from scheduler.monitor.health import AlarmChange, HealthConfig, check_health, parse_health
from scheduler.monitor.notify.delivery import DeliveryReport, Notifier, deliver_due
from scheduler.monitor.notify.settings import DeliveryPolicy, SmtpConfig, parse_notify, parse_smtp
from scheduler.monitor.watch import WatchRule, evaluate, parse_watch
from storage.errors import StorageError
from storage.records import MatchView
from storage.repository import Repository

logger = logging.getLogger("monitor")

#: The top-level keys of the configuration this module reads.
SECTIONS = ("health", "notify", "smtp", "watch")


@dataclass(frozen=True)
class MonitoringConfig:
    watch: tuple[WatchRule, ...] = ()
    smtp: SmtpConfig | None = None
    notify: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    health: HealthConfig = field(default_factory=HealthConfig)

    def rule(self, name: str) -> WatchRule | None:
        return next((r for r in self.watch if r.name == name), None)


def parse_monitoring(data: Mapping[str, Any]) -> MonitoringConfig:
    """The monitoring sections of a parsed configuration document (other keys ignored)."""
    smtp = parse_smtp(data.get("smtp"))
    return MonitoringConfig(
        watch=tuple(parse_watch(data.get("watch"), smtp=smtp is not None)),
        smtp=smtp,
        notify=parse_notify(data.get("notify")),
        health=parse_health(data.get("health"), smtp=smtp is not None),
    )


@dataclass(frozen=True)
class LoadedMonitoring:
    config: MonitoringConfig
    path: Path | None
    database_url: str | None  # ``[database] url`` of the file, relative paths resolved


def load_monitoring(cli_path: str | None = None) -> LoadedMonitoring:
    """Read the monitoring sections of the configuration file (found as the daemon finds
    it; no file: defaults, no rules)."""
    from scheduler.config import locate

    path, required = locate(cli_path)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        if required:
            raise WatchConfigError(f"config file {path} does not exist") from None
        return LoadedMonitoring(MonitoringConfig(), None, None)
    except OSError as error:
        raise WatchConfigError(
            f"cannot read config file {path}: {error.strerror or error}"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise WatchConfigError(f"{path}: not valid TOML: {error}") from None
    database = data.get("database")
    url = database.get("url") if isinstance(database, dict) else None
    url = _relative_to(url, path.resolve().parent) if isinstance(url, str) else None
    return LoadedMonitoring(parse_monitoring(data), path, url)


def _relative_to(value: str, base_dir: Path) -> str:
    """A SQLite URL with a relative path is taken relative to the configuration file."""
    try:
        url = make_url(value)
    except ArgumentError:
        return value  # the daemon's configuration check names the mistake
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith(("file:", "~"))
        and not Path(database).is_absolute()
    ):
        return url.set(database=str(base_dir / database)).render_as_string(hide_password=False)
    return value


def resolve_db(cli_db: str | None, loaded: LoadedMonitoring) -> str:
    """``--db`` > ``$KCNA_MONITOR_DB`` > ``[database] url`` > the default SQLite file."""
    from crawler.settings import default_database_url

    return (
        cli_db or os.environ.get("KCNA_MONITOR_DB") or loaded.database_url or default_database_url()
    )


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
        """Evaluate the watch rules on the article events not seen yet."""
        matches = evaluate(self.repo, self.config.watch, self.clock())
        for match in matches:
            logger.info(
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


def after_run(
    repo: Repository,
    config: MonitoringConfig,
    clock: Callable[[], datetime] = utc_now,
    *,
    sources: Sequence[str] = (),
) -> MonitorReport:
    """One-shot form of :meth:`Monitor.after_run`."""
    return Monitor(repo, config, sources=sources, clock=clock).after_run()
