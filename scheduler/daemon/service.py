"""The monitoring daemon: every enabled source crawled on its schedule until stopped.

This is the daemon's composition root: configuration -> engine and repository -> the
one-daemon-per-database lock -> an APScheduler ``BackgroundScheduler`` (one job per
source, ``max_instances=1``, ``coalesce=True``, an explicit misfire grace and time zone,
one worker thread per source) -> signal handling on the main thread.

Each run is recorded in ``crawl_runs`` by the daemon before its crawl starts, then crawled
by ``kcna-monitor crawl`` in a child process that fills that run in. Whatever the child
leaves unrecorded (it crashed, hung or was killed), the daemon records. Per-source state
(next run, current run, last error) is kept in ``daemon_state`` so ``kcna-monitor status``
can show it from another process.

After each run the source's job evaluates the watch rules and the sources' health, which
only queues notifications; a delivery thread of its own sends them, so a receiver that is
slow or hangs never delays a crawl.

Signals: SIGTERM and SIGINT stop scheduling, give running crawls ``stop_grace`` to finish,
then stop them cleanly (a second signal stops them at once); the daemon exits 0. SIGHUP
reloads the configuration; a bad one is refused and the old one kept.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from scheduler.config import Config, ConfigError, SourceConfig, format_duration
from scheduler.crawl.options import SPIDERS
from scheduler.daemon.child import ChildCrawl, ChildResult, crawl_command
from scheduler.daemon.schedule import job_options, pause_for
from scheduler.monitor.outbox import DeliveryWorker, Monitor
from storage.db import StorageError, display_url, make_engine, migrate
from storage.locks import DatabaseLock, LockHeld
from storage.records import RunView, SourceState
from storage.repository import Repository

logger = logging.getLogger("daemon")

#: How long a starting daemon waits for the database lock (a ``status`` probing it holds
#: it for a moment).
LOCK_WAIT = 3.0
#: After a stopped crawl is asked to stop (SIGTERM), how long before it is killed.
KILL_AFTER = 10.0
#: A second stop request this soon after the first is the same one delivered twice.
REPEAT_SIGNAL_WINDOW = 1.0


#: Seconds between two deliveries of due notifications.
DELIVERY_EVERY = 30


class DaemonError(Exception):
    """The daemon cannot start; the message is one line."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunReport:
    """One finished scheduled run, as logged."""

    source: str
    run: RunView | None
    seconds: float
    error: str | None

    @property
    def status(self) -> str:
        return self.run.status if self.run is not None else "failed"

    def line(self) -> str:
        text = f"{self.source}: {self.status} in {self.seconds:.1f}s"
        if self.run is not None:
            run = self.run
            text += (
                f" — pages {run.pages}, new {run.new}, changed {run.changed},"
                f" unchanged {run.unchanged}, failed {run.failures}"
            )
        if self.error:
            text += f"; {self.error}"
        return text


CrawlFactory = Callable[..., ChildCrawl]


class Daemon:
    """Run the configured sources on their schedules until :meth:`request_stop`."""

    def __init__(
        self,
        config: Config,
        *,
        db_url: str,
        reload: Callable[[], Config] | None = None,
        log_level: str = "INFO",
        clock: Callable[[], datetime] = utc_now,
        crawl_factory: CrawlFactory = ChildCrawl,
        on_run: Callable[[RunReport], None] | None = None,
        kill_after: float = KILL_AFTER,
    ) -> None:
        self.config = config
        self.db_url = db_url
        self._reload = reload
        debug = log_level.upper() == "DEBUG"
        self._child_log_level = "DEBUG" if debug else "WARNING"
        # APScheduler's own lines repeat ours ("Running job ..."); its errors still show.
        self._scheduler_log_level = logging.DEBUG if debug else logging.ERROR
        self._clock = clock
        self._crawl_factory = crawl_factory
        self._on_run = on_run
        self._kill_after = kill_after
        self._commands: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._hurry = False
        self._running: dict[str, ChildCrawl] = {}
        self._active: set[int] = set()  # threads inside a job
        self._skip_noted: set[str] = set()  # sources whose skipped runs were logged
        self._running_lock = threading.Lock()
        self._source_locks = {name: threading.Lock() for name in SPIDERS}
        self._states: dict[str, SourceState] = {}
        self._states_lock = threading.Lock()
        self._pid = os.getpid()
        self._host = socket.gethostname()
        self._engine: Engine | None = None
        self._repo: Repository | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._monitor: Monitor | None = None
        self._monitor_lock = threading.Lock()  # one source's after-run work at a time
        self._delivery: DeliveryWorker | None = None  # sends notifications; holds no lock
        self.started = threading.Event()

    # -- life cycle ----------------------------------------------------------------------

    def run(self) -> int:
        """Start, serve until stopped, stop. Returns the exit status (0)."""
        if self._scheduler_log_level != logging.DEBUG:
            logging.getLogger("alembic").setLevel(logging.WARNING)
        engine = make_engine(self.db_url)
        lock = DatabaseLock(self.db_url)
        try:
            migrate(engine)
            repo = Repository(engine)
            self._engine, self._repo = engine, repo
            self._take_lock(lock, repo)
            try:
                with self._signals():
                    self._start(repo)
                    self.started.set()
                    self._serve()
                    self._stop()
            finally:
                lock.release()
        finally:
            engine.dispose()
        logger.info("stopped")
        return 0

    def _take_lock(self, lock: DatabaseLock, repo: Repository) -> None:
        try:
            lock.acquire(timeout=LOCK_WAIT)
        except LockHeld:
            holder = ""
            try:
                states = [s for s in repo.source_states().values() if s.pid is not None]
            except StorageError:
                states = []
            if states:
                latest = max(states, key=lambda s: s.updated_at)
                holder = f" (pid {latest.pid} on {latest.host})"
            raise DaemonError(
                f"another kcna-monitor daemon is already running on "
                f"{display_url(self.db_url)}{holder}; stop it first"
            ) from None

    def _start(self, repo: Repository) -> None:
        now = self._clock()
        self._states = repo.source_states()
        self._close_abandoned_runs(repo, now)
        config = self.config
        workers = max(1, len(SPIDERS))
        scheduler = BackgroundScheduler(
            timezone=config.daemon.timezone,
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"max_instances": 1, "coalesce": True},
        )
        logging.getLogger("apscheduler").setLevel(self._scheduler_log_level)
        scheduler.add_listener(self._job_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self._scheduler = scheduler
        for source in config.enabled_sources():
            self._schedule(source, now)
        self._monitor = self._make_monitor(repo, config)
        # Notifications are sent on a thread of their own, never in a source's job: a
        # receiver that hangs must not delay a crawl. It is woken after each run, and
        # retries failed notifications on its own clock.
        self._delivery = DeliveryWorker(lambda: self._monitor, every=DELIVERY_EVERY)
        self._delivery.start()
        for name, source in config.sources.items():
            if not source.enabled:
                self._save_state(name, next_run_at=None, current_run_id=None, schedule="disabled")
        scheduler.start()
        logger.info(
            "started (pid %d): database %s, time zone %s; %s",
            self._pid,
            display_url(self.db_url),
            config.daemon.timezone,
            ", ".join(
                f"{s.name} {s.describe_schedule()} (next {self._when(s.name)})"
                for s in config.enabled_sources()
            ),
        )

    def _make_monitor(self, repo: Repository, config: Config) -> Monitor:
        return Monitor(
            repo,
            config.monitoring,
            sources=[source.name for source in config.enabled_sources()],
            clock=self._clock,
        )

    def _after_run(self) -> None:
        """Watch rules and source health once a run has ended (never raises). They only
        queue notifications: the delivery thread, woken here, sends them."""
        if self._monitor is None:
            return
        with self._monitor_lock:
            try:
                self._monitor.check()
            except Exception as error:
                logger.error("after-run monitoring failed: %s", error)
        if self._delivery is not None:
            self._delivery.wake()

    def _stop_delivery(self) -> None:
        """Stop the delivery thread, waiting a little for a notification being sent."""
        if self._delivery is None:
            return
        wait = min(self.config.monitoring.notify.timeout, self.config.daemon.stop_grace)
        if not self._delivery.stop(wait.total_seconds()):
            logger.info(
                "stopping without waiting for the notification being sent: the next daemon"
                " sends it again once its lease has passed"
            )

    def _close_abandoned_runs(self, repo: Repository, now: datetime) -> None:
        """Runs a previous daemon left ``running`` (it died during them): interrupted."""
        for name, state in self._states.items():
            if state.current_run_id is None:
                continue
            closed = repo.close_run(
                state.current_run_id,
                finished_at=now,
                status="interrupted",
                error="the daemon stopped before the crawl finished",
            )
            if closed:
                logger.warning(
                    "%s: run %d was left unfinished by a daemon that stopped; recorded as"
                    " interrupted",
                    name,
                    state.current_run_id,
                )
            self._states[name] = replace(state, current_run_id=None)

    def _schedule(self, source: SourceConfig, now: datetime) -> None:
        assert self._scheduler is not None and self._repo is not None
        label = SPIDERS[source.name].source_label
        runs = self._repo.recent_runs(limit=1, source=label)
        last_start = runs[0].started_at if runs else None
        options = job_options(source, self.config.daemon, last_start, now)
        self._scheduler.add_job(self._run_job, args=[source.name], **options)
        self._save_state(
            source.name,
            next_run_at=options["next_run_time"],
            schedule=source.describe_schedule(),
        )

    def _serve(self) -> None:
        while True:
            command = self._commands.get()
            if command == "stop":
                return
            if command == "reload":
                self.reload()

    def _stop(self) -> None:
        began = time.monotonic()
        self._stopping.set()
        grace = self.config.daemon.stop_grace
        with self._running_lock:
            running = dict(self._running)
        if running:
            logger.info(
                "stopping: waiting up to %s for %s to finish (stop again to stop at once)",
                format_duration(grace),
                ", ".join(sorted(running)),
            )
        else:
            logger.info("stopping")
        for crawl in running.values():
            crawl.request_stop(grace.total_seconds())
        assert self._scheduler is not None
        self._scheduler.shutdown(wait=False)
        while True:
            with self._running_lock:
                if not self._active:
                    break
            command = self._commands.get()
            if command == "stop" and time.monotonic() - began < REPEAT_SIGNAL_WINDOW:
                continue  # the same stop delivered twice (to the process and its group)
            if command == "stop" and not self._hurry:
                self._hurry = True
                logger.info("stopping now: running crawls are asked to stop")
                with self._running_lock:
                    running = dict(self._running)
                for crawl in running.values():
                    crawl.request_stop(0)
        self._stop_delivery()
        for name in list(self._states):
            self._save_state(name, next_run_at=None, current_run_id=None)

    def request_stop(self) -> None:
        """Ask the daemon to stop (any thread; a second request stops crawls at once)."""
        self._commands.put("stop")

    def request_reload(self) -> None:
        """Ask the daemon to read its configuration again (any thread)."""
        self._commands.put("reload")

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM/SIGINT stop, SIGHUP reloads. The handlers only queue a command: the
        main thread acts on it (a handler must not take locks the main thread may hold)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(_signum: int, _frame: FrameType | None) -> None:
            self._commands.put("stop")

        def hup(_signum: int, _frame: FrameType | None) -> None:
            self._commands.put("reload")

        previous = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
            signal.SIGINT: signal.signal(signal.SIGINT, stop),
            signal.SIGHUP: signal.signal(signal.SIGHUP, hup),
        }
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    # -- reload --------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the configuration again; a bad one is refused and the old one kept."""
        if self._reload is None:
            logger.warning("reload ignored: this daemon was not started from a config file")
            return
        try:
            new = self._reload()
        except ConfigError as error:
            logger.error("config reload refused, keeping the old configuration: %s", error)
            return
        if new.resolve_db(None) != self.config.resolve_db(None):
            logger.warning(
                "the database cannot change while the daemon runs: still using %s"
                " (restart to switch)",
                display_url(self.db_url),
            )
        old, self.config = self.config, new
        if self._repo is not None:
            with self._monitor_lock:
                self._monitor = self._make_monitor(self._repo, new)
        now = self._clock()
        assert self._scheduler is not None
        changes = []
        daemon_changed = old.daemon != new.daemon
        for name, source in new.sources.items():
            before = old.sources[name]
            if before.enabled and not source.enabled:
                self._scheduler.remove_job(name)
                self._save_state(name, next_run_at=None, schedule="disabled")
                changes.append(f"{name} disabled")
            elif source.enabled and (
                not before.enabled
                or daemon_changed
                or before.schedule_key() != source.schedule_key()
            ):
                self._schedule(source, now)
                changes.append(f"{name} {source.describe_schedule()} (next {self._when(name)})")
            elif source.enabled and before != source:
                changes.append(f"{name} settings")
        logger.info(
            "configuration reloaded%s: %s",
            f" from {new.path}" if new.path else "",
            ", ".join(changes) if changes else "nothing changed",
        )

    # -- one run -------------------------------------------------------------------------

    def _run_job(self, name: str) -> None:
        """The scheduled job of one source. Never raises: a failure is a failed run."""
        with self._running_lock:
            if self._stopping.is_set():
                return
            self._active.add(threading.get_ident())
        guard = self._source_locks[name]
        try:
            state = self._states.get(name)
            if state is not None and state.paused_until and self._clock() < state.paused_until:
                logger.debug("%s: paused until %s; run skipped", name, state.paused_until)
                self._save_state(name, next_run_at=self._next_run(name))
                return
            if not guard.acquire(blocking=False):
                self._skipped(name)
                return
            try:
                self._run_source(name)
            except Exception as error:  # the daemon must outlive anything a run does
                logger.error("%s: run failed unexpectedly", name, exc_info=error)
                self._save_state(name, last_error=f"{type(error).__name__}: {error}")
            finally:
                guard.release()
        finally:
            with self._running_lock:
                self._active.discard(threading.get_ident())
            self._commands.put("done")

    def _run_source(self, name: str) -> None:
        assert self._repo is not None
        repo = self._repo
        source = self.config.sources[name]
        label = SPIDERS[name].source_label
        began = time.monotonic()
        try:
            run_id = repo.start_run(label, self._clock())
        except StorageError as error:
            message = f"could not record the run: {error}"
            logger.error("%s: %s", name, message)
            self._finish(name, RunReport(name, None, time.monotonic() - began, message))
            return
        self._save_state(name, current_run_id=run_id)
        with self._running_lock:
            self._skip_noted.discard(name)
        crawl = self._crawl_factory(
            self._command(source, run_id),
            timeout=source.timeout.total_seconds(),
            kill_after=self._kill_after,
        )
        with self._running_lock:
            self._running[name] = crawl
        if self._stopping.is_set():
            crawl.request_stop(0 if self._hurry else self.config.daemon.stop_grace.total_seconds())
        try:
            result = crawl.run()
        except OSError as error:
            result = ChildResult(
                returncode=127,
                seconds=time.monotonic() - began,
                last_error=f"could not start the crawl: {error}",
            )
        finally:
            with self._running_lock:
                self._running.pop(name, None)
        report = self._settle(name, run_id, source, result, time.monotonic() - began)
        self._finish(name, report)

    def _command(self, source: SourceConfig, run_id: int) -> list[str]:
        delay = source.delay.total_seconds()
        settings: dict[str, str] = {
            "DOWNLOAD_DELAY": f"{delay:g}",
            "AUTOTHROTTLE_START_DELAY": f"{delay:g}",
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(source.concurrency),
        }
        for key, value in source.settings.items():
            settings[key] = setting_text(value)
        return crawl_command(
            source.name,
            db_url=self.db_url,
            run_id=run_id,
            base_url=source.base_url,
            start_urls=source.start_urls,
            max_pages=source.max_pages,
            settings=settings,
            log_level=self._child_log_level,
        )

    def _settle(
        self, name: str, run_id: int, source: SourceConfig, result: ChildResult, seconds: float
    ) -> RunReport:
        """Record what the crawl left unrecorded; the run as it finally stands."""
        assert self._repo is not None
        repo = self._repo
        now = self._clock()
        try:
            run = repo.get_run(run_id)
            error: str | None = None
            if run is None:
                return RunReport(name, None, seconds, f"run {run_id} has disappeared")
            if result.timed_out:
                error = f"timed out after {format_duration(source.timeout)}"
                if result.killed:
                    error += " (killed)"
                if run.status == "running":
                    repo.close_run(run_id, finished_at=now, status="failed", error=error)
                else:
                    self._refinish(run, status="failed", error=error)
            elif run.status == "running":
                if result.stopped:
                    error = "stopped with the daemon"
                    repo.close_run(run_id, finished_at=now, status="interrupted", error=error)
                else:
                    error = result.describe_exit()
                    repo.close_run(run_id, finished_at=now, status="failed", error=error)
            elif run.status == "failed":
                error = run.error or result.last_error or result.describe_exit()
                if not run.error:
                    self._refinish(run, status="failed", error=error)
            elif run.status == "interrupted":
                error = run.error if run.error and run.error != "shutdown" else None
            return RunReport(name, repo.get_run(run_id), seconds, error)
        except StorageError as error:
            return RunReport(name, None, seconds, f"could not record the end of the run: {error}")

    def _refinish(self, run: RunView, *, status: str, error: str | None) -> None:
        assert self._repo is not None
        self._repo.finish_run(
            run.id,
            finished_at=run.finished_at or self._clock(),
            status=status,
            pages=run.pages,
            new=run.new,
            changed=run.changed,
            unchanged=run.unchanged,
            failures=run.failures,
            error=error,
        )

    def _finish(self, name: str, report: RunReport) -> None:
        level = logging.WARNING if report.status == "failed" else logging.INFO
        logger.log(level, "%s", report.line())
        failed = report.status == "failed"
        state = self._states.get(name)
        in_row = (state.failures_in_row if state else 0) + 1 if failed else 0
        if report.status == "interrupted" and state is not None:
            in_row = state.failures_in_row  # a stop is neither a failure nor a success
        pause = pause_for(in_row, self.config.sources[name]) if failed else None
        paused_until = self._clock() + pause if pause else None
        if pause:
            logger.warning(
                "%s: %d failed runs in a row; pausing for %s (until %s)",
                name,
                in_row,
                format_duration(pause),
                paused_until.strftime("%Y-%m-%d %H:%M:%S %Z") if paused_until else "?",
            )
        elif not failed and state is not None and state.paused_until is not None:
            logger.info("%s: ok again; no longer paused", name)
        self._save_state(
            name,
            current_run_id=None,
            next_run_at=self._next_run(name),
            failures_in_row=in_row,
            paused_until=paused_until,
            **({"last_error": report.error or "failed"} if failed else {}),
        )
        self._after_run()
        if self._on_run is not None:
            try:
                self._on_run(report)
            except Exception as error:
                logger.error("after-run hook failed", exc_info=error)

    # -- state ---------------------------------------------------------------------------

    def _next_run(self, name: str) -> datetime | None:
        if self._scheduler is None or self._stopping.is_set():
            return None
        job = self._scheduler.get_job(name)
        return job.next_run_time if job is not None else None

    def _when(self, name: str) -> str:
        state = self._states.get(name)
        if state is None or state.next_run_at is None:
            return "not scheduled"
        delay = state.next_run_at - self._clock()
        if delay <= timedelta(seconds=1):
            return "now"
        return f"in {format_duration(timedelta(seconds=round(delay.total_seconds())))}"

    _UNSET: Any = object()

    def _save_state(
        self,
        name: str,
        *,
        next_run_at: Any = _UNSET,
        current_run_id: Any = _UNSET,
        last_error: Any = _UNSET,
        schedule: Any = _UNSET,
        failures_in_row: Any = _UNSET,
        paused_until: Any = _UNSET,
    ) -> None:
        now = self._clock()
        with self._states_lock:
            state = self._states.get(name) or SourceState(source=name, updated_at=now)
            changes: dict[str, Any] = {"updated_at": now, "pid": self._pid, "host": self._host}
            if next_run_at is not self._UNSET:
                changes["next_run_at"] = next_run_at
            if current_run_id is not self._UNSET:
                changes["current_run_id"] = current_run_id
            if schedule is not self._UNSET:
                changes["schedule"] = schedule
            if failures_in_row is not self._UNSET:
                changes["failures_in_row"] = failures_in_row
            if paused_until is not self._UNSET:
                changes["paused_until"] = paused_until
            if last_error is not self._UNSET:
                changes["last_error"] = last_error
                changes["last_error_at"] = now
            state = replace(state, **changes)
            self._states[name] = state
        if self._repo is None:
            return
        try:
            self._repo.save_source_state(state)
        except StorageError as error:
            logger.warning("%s: could not save the schedule state: %s", name, error)

    def _job_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            logger.warning(
                "%s: the run due at %s was missed (more than the misfire grace late)",
                event.job_id,
                getattr(event, "scheduled_run_time", "?"),
            )
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self._skipped(event.job_id)

    def _skipped(self, name: str) -> None:
        """A run came due while the previous one still runs: skipped (said once per run)."""
        with self._running_lock:
            first = name not in self._skip_noted
            self._skip_noted.add(name)
        logger.log(
            logging.INFO if first else logging.DEBUG,
            "%s: the previous run is still going; runs due meanwhile are skipped",
            name,
        )


def setting_text(value: Any) -> str:
    """A TOML value as ``--set NAME=VALUE`` text Scrapy reads back (JSON for tables)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
