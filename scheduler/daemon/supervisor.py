"""One scheduled run of one source, from start to settled: the daemon's run supervisor.

A run is recorded in ``crawl_runs`` before its crawl starts, then crawled by
``kcna-monitor crawl`` in a child process (:mod:`scheduler.daemon.child`) that fills that run
in. Whatever the child leaves unrecorded (it crashed, hung, was killed or timed out), the
supervisor records, and it decides whether a source that keeps failing pauses. Per-source
state (next run, current run, last error, pause) is kept in ``daemon_state`` by
:class:`SourceStates`, so ``kcna-monitor status`` can show it from another process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crawler.sources import SOURCES
from scheduler.configtypes import format_duration
from scheduler.daemon.child import ChildCrawl, ChildResult, crawl_command
from scheduler.daemon.runlog import ChildLines
from scheduler.daemon.schedule import pause_for, period
from scheduler.daemon.settings import DEFAULT_TIMEZONE, SourceConfig
from storage.db import StorageError
from storage.records import RunView, SourceState
from storage.repository import Repository

logger = logging.getLogger("daemon")

CrawlFactory = Callable[..., ChildCrawl]


@dataclass(frozen=True)
class RunReport:
    """One finished scheduled run, as logged."""

    source: str
    run: RunView | None
    seconds: float
    error: str | None
    run_id: int | None = None  # when the run was recorded but cannot be read back

    @property
    def status(self) -> str:
        return self.run.status if self.run is not None else "failed"

    @property
    def label(self) -> str:
        """``kcna run 12``: what the run's lines start with (``kcna`` when never recorded)."""
        run_id = self.run.id if self.run is not None else self.run_id
        return self.source if run_id is None else f"{self.source} run {run_id}"

    def line(self, notes: Sequence[str] = ()) -> str:
        """The run's one log line: outcome, counts, duration, why it failed, and ``notes``."""
        text = f"{self.label}: {self.status} in {self.seconds:.1f}s"
        if self.run is not None:
            run = self.run
            text += (
                f" — pages {run.pages}, new {run.new}, changed {run.changed},"
                f" unchanged {run.unchanged}, failed {run.failures}"
            )
        return "; ".join([text, *([self.error] if self.error else []), *notes])


_UNSET: Any = object()


class SourceStates:
    """The daemon's per-source state, in memory and in ``daemon_state`` (any thread)."""

    def __init__(
        self, clock: Callable[[], datetime], *, pid: int, host: str, repo: Repository | None = None
    ) -> None:
        self._clock = clock
        self._pid = pid
        self._host = host
        self.repo = repo
        self._states: dict[str, SourceState] = {}
        self._lock = threading.Lock()

    def load(self, repo: Repository) -> None:
        self.repo = repo
        with self._lock:
            self._states = repo.runs.source_states()

    def get(self, name: str) -> SourceState | None:
        with self._lock:
            return self._states.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._states)

    def forget_run(self, name: str) -> None:
        """In memory only: the source has no current run (its run was closed elsewhere)."""
        with self._lock:
            state = self._states.get(name)
            if state is not None:
                self._states[name] = replace(state, current_run_id=None)

    def save(
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
        """Change the given fields of a source's state (the others stay) and store it."""
        now = self._clock()
        given = {
            "next_run_at": next_run_at,
            "current_run_id": current_run_id,
            "schedule": schedule,
            "failures_in_row": failures_in_row,
            "paused_until": paused_until,
        }
        changes: dict[str, Any] = {"updated_at": now, "pid": self._pid, "host": self._host}
        changes.update({key: value for key, value in given.items() if value is not _UNSET})
        if last_error is not _UNSET:
            changes["last_error"] = last_error
            changes["last_error_at"] = now
        with self._lock:
            state = self._states.get(name) or SourceState(source=name, updated_at=now)
            state = replace(state, **changes)
            self._states[name] = state
        if self.repo is None:
            return
        try:
            self.repo.runs.save_source_state(state)
        except StorageError as error:
            logger.warning("%s: could not save the schedule state: %s", name, error)


class RunSupervisor:
    """Start a source's run, crawl it in a child process, settle what the child left
    unrecorded, and decide the source's pause after failed runs in a row."""

    def __init__(
        self,
        states: SourceStates,
        *,
        db_url: str,
        clock: Callable[[], datetime],
        crawl_factory: CrawlFactory = ChildCrawl,
        kill_after: float = 10.0,
        child_log_level: str = "WARNING",
    ) -> None:
        self.states = states
        self.db_url = db_url
        self._clock = clock
        self._crawl_factory = crawl_factory
        self._kill_after = kill_after
        self._child_log_level = child_log_level
        self._lock = threading.Lock()
        self._running: dict[str, ChildCrawl] = {}
        self._run_ids: dict[str, int] = {}
        self._stop_grace: float | None = None  # set once the daemon stops

    @property
    def repo(self) -> Repository:
        assert self.states.repo is not None, "the states are not loaded"
        return self.states.repo

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def running_runs(self) -> list[str]:
        """What runs now, e.g. ``["kcna run 12"]``."""
        with self._lock:
            return [f"{name} run {run_id}" for name, run_id in sorted(self._run_ids.items())]

    def stop_source(self, name: str) -> None:
        """Stop the crawl of ``name`` at once (its run is no longer this daemon's)."""
        with self._lock:
            crawl = self._running.get(name)
        if crawl is not None:
            crawl.request_stop(0)

    def stop(self, grace: float) -> None:
        """Let running and starting crawls go on for at most ``grace`` more seconds."""
        with self._lock:
            self._stop_grace = grace
            running = list(self._running.values())
        for crawl in running:
            crawl.request_stop(grace)

    def run(self, source: SourceConfig, run_id: int | None = None) -> RunReport:
        """One run of ``source``, recorded from start to end, whatever happens to its crawl
        (``run_id``: recorded already, as a claimed run is)."""
        name = source.name
        began = time.monotonic()
        if run_id is None:
            try:
                run_id = self.repo.runs.start(SOURCES[name].label, self._clock())
            except StorageError as error:
                message = f"could not record the run: {error}"
                return RunReport(name, None, time.monotonic() - began, message)
        self.states.save(name, current_run_id=run_id)
        lines = ChildLines(f"{name} run {run_id}")
        crawl = self._crawl_factory(
            self.command(source, run_id),
            timeout=source.timeout.total_seconds(),
            kill_after=self._kill_after,
            output=lines,
        )
        with self._lock:
            self._running[name] = crawl
            self._run_ids[name] = run_id
            grace = self._stop_grace
        if grace is not None:
            crawl.request_stop(grace)
        try:
            result = crawl.run()
        except OSError as error:
            result = ChildResult(
                returncode=127,
                seconds=time.monotonic() - began,
                last_error=f"could not start the crawl: {error}",
            )
        finally:
            with self._lock:
                self._running.pop(name, None)
                self._run_ids.pop(name, None)
        reason = lines.reason()
        if reason is not None:
            result = replace(result, last_error=reason)
        return self.settle(name, run_id, source, result, time.monotonic() - began)

    def command(self, source: SourceConfig, run_id: int) -> list[str]:
        """The child's ``kcna-monitor crawl`` command line for this run."""
        delay = source.delay.total_seconds()
        settings: dict[str, str] = {
            "DOWNLOAD_DELAY": f"{delay:g}",
            "AUTOTHROTTLE_START_DELAY": f"{delay:g}",
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(source.concurrency),
        }
        # A cron's gap is taken in UTC: a sweep's share per run need not be exact.
        sweep = source.sweep(period(source, DEFAULT_TIMEZONE, self._clock()))
        if sweep is not None:
            settings.update(sweep.to_settings())
        for key, value in source.settings.items():
            settings[key] = setting_text(value)
        return crawl_command(
            source.name,
            db_url=self.db_url,
            run_id=run_id,
            base_url=source.base_url,
            proxy=source.proxy,
            start_urls=source.start_urls,
            max_pages=source.max_pages,
            settings=settings,
            log_level=self._child_log_level,
        )

    def settle(
        self, name: str, run_id: int, source: SourceConfig, result: ChildResult, seconds: float
    ) -> RunReport:
        """Record what the crawl left unrecorded; the run as it finally stands."""
        repo = self.repo
        try:
            run = repo.runs.get(run_id)
            if run is None:
                return RunReport(name, None, seconds, "the run has disappeared", run_id)
            error = self._settle_run(run, source, result)
            return RunReport(name, repo.runs.get(run_id), seconds, error, run_id)
        except StorageError as error:
            why = f"could not record the end of the run: {error}"
            return RunReport(name, None, seconds, why, run_id)

    def _settle_run(self, run: RunView, source: SourceConfig, result: ChildResult) -> str | None:
        now = self._clock()
        repo = self.repo
        if result.timed_out:
            error = f"timed out after {format_duration(source.timeout)}"
            if result.killed:
                error += " (killed)"
            if run.status == "running":
                repo.runs.close(run.id, finished_at=now, status="failed", error=error)
            else:
                self._refinish(run, status="failed", error=error)
            return error
        if run.status == "running":
            if result.stopped:
                error = "stopped with the daemon"
                repo.runs.close(run.id, finished_at=now, status="interrupted", error=error)
            else:
                error = result.describe_exit()
                repo.runs.close(run.id, finished_at=now, status="failed", error=error)
            return error
        if run.status == "failed":
            error = run.error or result.last_error or result.describe_exit()
            if not run.error:
                self._refinish(run, status="failed", error=error)
            return error
        if run.status == "interrupted":
            return run.error if run.error and run.error != "shutdown" else None
        return None

    def _refinish(self, run: RunView, *, status: str, error: str | None) -> None:
        self.repo.runs.finish(
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

    def conclude(
        self, report: RunReport, source: SourceConfig, next_run_at: Any, notes: Sequence[str] = ()
    ) -> None:
        """Log the run in one line (with ``notes``), and record the source's state after it:
        failures in a row, and a pause once they are too many (a stop is neither a failure
        nor a success)."""
        name = report.source
        failed = report.status == "failed"
        state = self.states.get(name)
        in_row = (state.failures_in_row if state else 0) + 1 if failed else 0
        if report.status == "interrupted" and state is not None:
            in_row = state.failures_in_row
        pause = pause_for(in_row, source) if failed else None
        paused_until = self._clock() + pause if pause else None
        said = []
        if pause and paused_until:
            said.append(
                f"{in_row} failed runs in a row: paused for {format_duration(pause)}"
                f" (until {paused_until.strftime('%Y-%m-%d %H:%M:%S %Z')})"
            )
        elif not failed and state is not None and state.paused_until is not None:
            said.append("no longer paused")
        logger.log(logging.WARNING if failed else logging.INFO, "%s", report.line([*said, *notes]))
        self.states.save(
            name,
            current_run_id=None,
            next_run_at=next_run_at,
            failures_in_row=in_row,
            paused_until=paused_until,
            **({"last_error": report.error or "failed"} if failed else {}),
        )


def setting_text(value: Any) -> str:
    """A TOML value as ``--set NAME=VALUE`` text Scrapy reads back (JSON for tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
