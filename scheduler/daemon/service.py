"""The monitoring daemon: every enabled source crawled on its schedule until stopped.

This is the daemon's composition root: configuration -> engine and repository -> the
one-daemon-per-database lock (SQLite), or this daemon as a node among peers (PostgreSQL:
:mod:`scheduler.daemon.cluster`) -> an APScheduler ``BackgroundScheduler`` (one job per
source, ``max_instances=1``, ``coalesce=True``, an explicit misfire grace and time zone,
one worker thread per source) -> signal handling on the main thread. Each run is carried
out by the run supervisor (:mod:`scheduler.daemon.supervisor`).

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
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from crawler.sources import SOURCES, aggregator_hosts
from scheduler.config import Config
from scheduler.configtypes import ConfigError, format_duration
from scheduler.daemon.child import ChildCrawl
from scheduler.daemon.cluster import ClusterNode, run_slots
from scheduler.daemon.runlog import JobNotes
from scheduler.daemon.schedule import job_options, reload_changes, when
from scheduler.daemon.settings import SourceConfig
from scheduler.daemon.signals import commands_on_signals
from scheduler.daemon.startup import close_abandoned_runs, take_lock
from scheduler.daemon.supervisor import CrawlFactory, RunReport, RunSupervisor, SourceStates
from scheduler.monitor.outbox import DaemonMonitoring
from storage.cluster import ClaimView
from storage.db import display_url, make_engine, migrate
from storage.locks import DatabaseLock
from storage.repository import Repository

logger = logging.getLogger("daemon")

#: After a stopped crawl is asked to stop (SIGTERM), how long before it is killed.
KILL_AFTER = 10.0
#: A second stop request this soon after the first is the same one delivered twice.
REPEAT_SIGNAL_WINDOW = 1.0


#: Seconds between two deliveries of due notifications.
DELIVERY_EVERY = 30


def utc_now() -> datetime:
    return datetime.now(UTC)


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
        # APScheduler's own lines repeat ours ("Running job ..."); its errors still show.
        self._scheduler_log_level = logging.DEBUG if debug else logging.ERROR
        self._clock = clock
        self._on_run = on_run
        self.states = SourceStates(clock, pid=os.getpid(), host=socket.gethostname())
        self.supervisor = RunSupervisor(
            self.states,
            db_url=db_url,
            clock=clock,
            crawl_factory=crawl_factory,
            kill_after=kill_after,
            child_log_level="DEBUG" if debug else "WARNING",
        )
        self._commands: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._hurry = False
        self._active: set[int] = set()  # threads inside a job
        self._notes = JobNotes()  # skipped and missed runs, told in the next run's line
        self._lock = threading.Lock()
        self._source_locks = {name: threading.Lock() for name in SOURCES}
        self._scheduler: BackgroundScheduler | None = None
        self.node: ClusterNode | None = None  # on PostgreSQL: this daemon among its peers
        self.monitoring = DaemonMonitoring(every=DELIVERY_EVERY, clock=clock)
        self.started = threading.Event()

    # -- life cycle ----------------------------------------------------------------------

    def run(self) -> int:
        """Start, serve until stopped, stop. Returns the exit status (0)."""
        if self._scheduler_log_level != logging.DEBUG:
            logging.getLogger("alembic").setLevel(logging.WARNING)
        engine = make_engine(self.db_url)
        # SQLite: one daemon per archive. PostgreSQL: any number, as peers.
        lock = DatabaseLock(self.db_url) if engine.dialect.name != "postgresql" else None
        try:
            migrate(engine)
            repo = Repository(engine, aggregator_hosts=aggregator_hosts())
            if lock is None:
                self.node = self._node(repo)
            else:
                take_lock(lock, repo, self.db_url)
            try:
                with commands_on_signals(self._commands.put):
                    self._start(repo)
                    self.started.set()
                    self._serve()
                    self._stop()
            finally:
                if lock is not None:
                    lock.release()
        finally:
            engine.dispose()
        logger.info("stopped")
        return 0

    def _node(self, repo: Repository) -> ClusterNode:
        return ClusterNode(
            repo,
            self.config.cluster,
            config_hash=self.config.digest(),
            clock=self._clock,
            running=self.supervisor.running_runs,
            sources=lambda: _enabled(self.config),
            recover=self._recover,
        )

    def _start(self, repo: Repository) -> None:
        now = self._clock()
        self.states.load(repo)
        if self.node is None:  # on PostgreSQL, a lapsed claim's run is taken over instead
            close_abandoned_runs(self.states, repo, now)
        config = self.config
        workers = max(1, len(SOURCES))
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
        # Notifications are sent on a thread of their own, never in a source's job: a
        # receiver that hangs must not delay a crawl. It is woken after each run, and
        # retries failed notifications on its own clock.
        self.monitoring.start(repo, config.monitoring, _enabled(config))
        for name, source in config.sources.items():
            if not source.enabled:
                self.states.save(name, next_run_at=None, current_run_id=None, schedule="disabled")
        scheduler.start()
        if self.node is not None:
            self.node.start()
        logger.info(
            "started (pid %d%s): database %s, time zone %s; %s",
            os.getpid(),
            f", node {self.node.node_id}" if self.node else "",
            display_url(self.db_url),
            config.daemon.timezone,
            ", ".join(
                f"{s.name} {s.describe_schedule()} (next {self._when(s.name)})"
                for s in config.enabled_sources()
            ),
        )

    def _schedule(self, source: SourceConfig, now: datetime) -> None:
        assert self._scheduler is not None
        label = SOURCES[source.name].label
        runs = self.supervisor.repo.runs.recent(limit=1, source=label)
        last_start = runs[0].started_at if runs else None
        options = job_options(
            source, self.config.daemon, last_start, now, aligned=self.node is not None
        )
        self._scheduler.add_job(self._run_job, args=[source.name], **options)
        self.states.save(
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
        # A node among peers stops its crawls at once and gives their runs to the others.
        grace = timedelta(0) if self.node else self.config.daemon.stop_grace
        running = ", ".join(self.supervisor.running())
        if running and self.node:
            logger.info("stopping: %s stopped, to be run by another node", running)
        elif running:
            logger.info(
                "stopping: waiting up to %s for %s to finish (stop again to stop at once)",
                format_duration(grace),
                running,
            )
        else:
            logger.info("stopping")
        self.supervisor.stop(grace.total_seconds())
        assert self._scheduler is not None
        self._scheduler.shutdown(wait=False)
        while True:
            with self._lock:
                if not self._active:
                    break
            command = self._commands.get()
            if command == "stop" and time.monotonic() - began < REPEAT_SIGNAL_WINDOW:
                continue  # the same stop delivered twice (to the process and its group)
            if command == "stop" and not self._hurry:
                self._hurry = True
                logger.info("stopping now: running crawls are asked to stop")
                self.supervisor.stop(0)
        # Wait a little for a notification being sent (else resent after its lease).
        wait = min(self.config.monitoring.notify.timeout, self.config.daemon.stop_grace)
        self.monitoring.stop(wait.total_seconds())
        if self.node is not None:
            self.node.stop()
            return  # the sources' schedule states are the other nodes' now
        for name in self.states.names():
            self.states.save(name, next_run_at=None, current_run_id=None)

    def request_stop(self) -> None:
        """Ask the daemon to stop (any thread; a second request stops crawls at once)."""
        self._commands.put("stop")

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
        if self.node is not None:
            self.node.config_hash = new.digest()
        if self.states.repo is not None:
            self.monitoring.configure(self.states.repo, new.monitoring, _enabled(new))
        now = self._clock()
        assert self._scheduler is not None
        changes = []
        for name, change in reload_changes(old, new):
            source = new.sources[name]
            if change == "disabled":
                self._scheduler.remove_job(name)
                self.states.save(name, next_run_at=None, schedule="disabled")
                changes.append(f"{name} disabled")
            elif change == "rescheduled":
                self._schedule(source, now)
                changes.append(f"{name} {source.describe_schedule()} (next {self._when(name)})")
            else:
                changes.append(f"{name} settings")
        logger.info(
            "configuration reloaded%s: %s",
            f" from {new.path}" if new.path else "",
            ", ".join(changes) if changes else "nothing changed",
        )

    # -- one run -------------------------------------------------------------------------

    def _recover(self, claim: ClaimView) -> None:
        """A run another node let lapse or gave back: taken over on a thread of its own."""
        if self._stopping.is_set() or self._source_locks[claim.source].locked():
            return
        threading.Thread(
            target=self._run_job, args=(claim.source, claim), name="takeover", daemon=True
        ).start()

    def _run_job(self, name: str, lapsed: ClaimView | None = None) -> None:
        """The scheduled job of one source (or the takeover of ``lapsed``). Never raises: a
        failure is a failed run."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._active.add(threading.get_ident())
        guard = self._source_locks[name]
        try:
            state = self.states.get(name)
            if state is not None and state.paused_until and self._clock() < state.paused_until:
                logger.debug("%s: paused until %s; run skipped", name, state.paused_until)
                self.states.save(name, next_run_at=self._next_run(name))
                return
            if not guard.acquire(blocking=False):
                self._skipped(name)
                return
            try:
                self._run_source(name, lapsed)
            except Exception as error:  # the daemon must outlive anything a run does
                logger.error("%s: run failed unexpectedly", name, exc_info=error)
                self.states.save(name, last_error=f"{type(error).__name__}: {error}")
            finally:
                guard.release()
        finally:
            with self._lock:
                self._active.discard(threading.get_ident())
            self._commands.put("done")

    def _run_source(self, name: str, lapsed: ClaimView | None = None) -> None:
        source = self.config.sources[name]
        if self.node is None:
            self._finish(name, self.supervisor.run(source))
            return
        run_slots(
            self.node,
            self.supervisor,
            source,
            timezone=self.config.daemon.timezone,
            lapsed=lapsed,
            stopping=self._stopping.is_set,
            finish=lambda report: self._finish(name, report),
        )

    def _finish(self, name: str, report: RunReport) -> None:
        source, notes = self.config.sources[name], self._notes.take(name)
        self.supervisor.conclude(report, source, self._next_run(name), notes)
        self.monitoring.after_run()
        if self._on_run is not None:
            try:
                self._on_run(report)
            except Exception as error:
                logger.error("after-run hook failed", exc_info=error)

    # -- schedule ------------------------------------------------------------------------

    def _next_run(self, name: str) -> datetime | None:
        if self._scheduler is None or self._stopping.is_set():
            return None
        job = self._scheduler.get_job(name)
        return job.next_run_time if job is not None else None

    def _when(self, name: str) -> str:
        state = self.states.get(name)
        return when(state.next_run_at if state else None, self._clock())

    def _job_event(self, event: JobEvent) -> None:
        """A run missed or skipped: said in the source's next run line (and at DEBUG now)."""
        name = event.job_id
        if name not in self.config.sources:
            return  # not a source's job: nothing a user needs to hear about
        if event.code == EVENT_JOB_MISSED:
            logger.debug(
                "%s: the run due at %s was missed (more than the misfire grace late)",
                name,
                getattr(event, "scheduled_run_time", "?"),
            )
            self._notes.missed(name)
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self._skipped(name)

    def _skipped(self, name: str) -> None:
        """A run came due while the previous one still runs: skipped."""
        logger.debug("%s: the previous run is still going; the run due now is skipped", name)
        if self.node is None:  # among peers, another node runs it
            self._notes.skipped(name)


def _enabled(config: Config) -> list[str]:
    return [source.name for source in config.enabled_sources()]
