"""The daemon's log at its default level: its start and stop lines and exactly one line per run
of each source (outcome, counts, duration, and for a failed run the reason in words); nothing
from its internal work unless something is wrong. The child crawl's lines are attributed to
their run (``kcna run 12: ...``) and shown at DEBUG only; its closing error becomes the reason
of the run's line. The daemon runs in-process with scripted crawls (they print what a child
crawl prints, through the daemon's output callback) and an injected clock; nothing sleeps."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent

from scheduler.config import Config, MonitoringConfig
from scheduler.daemon.child import ChildCrawl, ChildResult
from scheduler.daemon.runlog import ChildLines, JobNotes
from scheduler.daemon.service import Daemon
from scheduler.daemon.settings import DaemonConfig, SourceConfig
from storage.db import make_engine
from storage.repository import Repository
from tests.monitor_helpers import Clock
from tests.test_notify_daemon import WAIT, Runs, run_now, running

STAMP = "2026-01-01 00:00:00"
LISTING = "http://www.kcna.kp/en/article/list/a666dda1282180e0ee1b4427b0574ae7"
DNS = "DNS lookup failed: no results for hostname lookup: www.kcna.kp."
#: What ``kcna-monitor crawl kcna --log-level WARNING`` prints on a machine without network.
OFFLINE = [
    f"{STAMP} ERROR [scrapy.downloadermiddlewares.retry] Gave up retrying"
    f" <GET http://www.kcna.kp/robots.txt> (failed 1 times): {DNS}",
    f"{STAMP} WARNING [kcna] could not fetch {LISTING}: DNSLookupError: {DNS}",
    "kcna-monitor: error: nothing could be fetched (see the log above for why)",
]
OFFLINE_REASON = f"nothing could be fetched: could not fetch {LISTING}: DNSLookupError: {DNS}"
#: A run that went well but warned about something.
WARNED = f"{STAMP} WARNING [kcnawatch] listing https://kcnawatch.org/newstream/ has no entries"


@dataclass(frozen=True)
class Script:
    """What one scripted crawl prints and records."""

    lines: Sequence[str] = ()
    status: str = "ok"
    pages: int = 3
    returncode: int = 0


class ScriptedCrawl:
    def __init__(
        self, crawls: ScriptedCrawls, run_id: int, output: Callable[[str], None], script: Script
    ) -> None:
        self.crawls, self.run_id, self.output, self.script = crawls, run_id, output, script

    def run(self) -> ChildResult:
        self.crawls.entered.set()
        assert self.crawls.release.wait(WAIT), "the test did not let the crawl end"
        for line in self.script.lines:
            self.output(line)
        pages = self.script.pages
        self.crawls.repo.runs.finish(
            self.run_id,
            finished_at=self.crawls.clock(),
            status=self.script.status,
            pages=pages,
            new=1 if pages else 0,
            changed=0,
            unchanged=max(pages - 1, 0),
            failures=0 if pages else 2,
        )
        return ChildResult(returncode=self.script.returncode, seconds=0.0)

    def request_stop(self, grace: float) -> None:
        pass


class ScriptedCrawls:
    """The daemon's crawl factory: each source's crawls follow its script."""

    def __init__(self, repo: Repository, clock: Clock, scripts: dict[str, Script]) -> None:
        self.repo, self.clock, self.scripts = repo, clock, scripts
        self.entered, self.release = threading.Event(), threading.Event()
        self.release.set()

    def __call__(
        self,
        command: Sequence[str],
        *,
        timeout: float,
        kill_after: float,
        output: Callable[[str], None],
    ) -> ScriptedCrawl:
        argv = list(command)
        source = argv[argv.index("crawl") + 1]
        run_id = int(argv[argv.index("--run-id") + 1])
        return ScriptedCrawl(self, run_id, output, self.scripts[source])


def make_daemon(db_url: str, crawls: ScriptedCrawls, runs: Runs) -> Daemon:
    sources = {
        name: SourceConfig(name=name, every=timedelta(hours=1), jitter=timedelta(0))
        for name in crawls.scripts
    }
    config = Config(
        path=None,
        database_url=None,
        daemon=DaemonConfig(timezone="UTC"),
        sources=sources,
        monitoring=MonitoringConfig(),
    )
    return Daemon(config, db_url=db_url, clock=crawls.clock, crawl_factory=crawls, on_run=runs)


def shown(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The lines the daemon prints at its default level (INFO)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]


def debug(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]


def test_each_run_is_one_line_and_a_failed_one_says_why(
    migrated_sqlite: str, caplog: pytest.LogCaptureFixture
) -> None:
    repo = Repository(make_engine(migrated_sqlite))
    scripts = {
        "kcna": Script(OFFLINE, status="failed", pages=0, returncode=1),
        "kcnawatch": Script([WARNED]),
    }
    crawls, runs = ScriptedCrawls(repo, Clock(datetime.now(UTC)), scripts), Runs()
    caplog.set_level(logging.DEBUG)
    daemon = make_daemon(migrated_sqlite, crawls, runs)
    with running(daemon):
        runs.wait_for(2)  # both sources' first runs
        for count in (3, 4):  # kcna fails twice more: it pauses
            run_now(daemon, "kcna")
            runs.wait_for(count)
    reports = runs.wait_for(4)

    lines = shown(caplog)
    assert lines[0].startswith("started (pid ") and lines[-2:] == ["stopping", "stopped"]
    assert len(lines) == 2 + len(reports) + 1  # nothing but the runs in between
    for report in reports:  # one line each
        assert len([line for line in lines if line.startswith(f"{report.label}: ")]) == 1

    watch = next(r for r in reports if r.source == "kcnawatch")
    assert watch.run is not None
    assert (
        f"kcnawatch run {watch.run.id}: ok in {watch.seconds:.1f}s — pages 3, new 1, changed 0,"
        " unchanged 2, failed 0"
    ) in lines
    failed = [r for r in reports if r.source == "kcna"]
    for number, report in enumerate(failed, 1):
        assert report.run is not None
        expected = (
            f"kcna run {report.run.id}: failed in {report.seconds:.1f}s — pages 0, new 0,"
            f" changed 0, unchanged 0, failed 2; {OFFLINE_REASON} (and 1 more)"
        )
        if number == 3:
            expected += "; 3 failed runs in a row: paused for 1h (until "
        assert any(line.startswith(expected) for line in lines), (expected, lines)
        assert repo.runs.get(report.run.id).error == f"{OFFLINE_REASON} (and 1 more)"
    assert not any("kcna-monitor: error" in line or "Gave up" in line for line in lines)

    # At DEBUG, every line of every child, attributed to its run.
    details = debug(caplog)
    first = failed[0].run
    assert first is not None
    for line in OFFLINE:
        assert f"kcna run {first.id}: {line.removeprefix(STAMP + ' ')}" in details
    assert f"kcnawatch run {watch.run.id}: {WARNED.removeprefix(STAMP + ' ')}" in details


def test_runs_skipped_or_missed_meanwhile_are_told_in_the_next_run_line(
    migrated_sqlite: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A run that comes due while the previous one still goes is skipped, and a run the
    daemon came to too late is missed: neither is a line of its own; jobs that are not a
    source's say nothing."""
    repo = Repository(make_engine(migrated_sqlite))
    crawls, runs = ScriptedCrawls(repo, Clock(datetime.now(UTC)), {"kcna": Script()}), Runs()
    crawls.release.clear()
    caplog.set_level(logging.INFO)
    daemon = make_daemon(migrated_sqlite, crawls, runs)
    with running(daemon):
        assert crawls.entered.wait(WAIT)
        assert daemon._scheduler is not None
        skipped = threading.Event()
        daemon._scheduler.add_listener(lambda event: skipped.set(), EVENT_JOB_MAX_INSTANCES)
        run_now(daemon, "kcna")  # due again while the first run goes on
        assert skipped.wait(WAIT)
        now = datetime.now(UTC)
        for job in ("kcna", "deliver"):
            daemon._job_event(JobExecutionEvent(EVENT_JOB_MISSED, job, "default", now))
        daemon._job_event(JobExecutionEvent(EVENT_JOB_MAX_INSTANCES, "deliver", "default", now))
        crawls.release.set()
        [report] = runs.wait_for(1)
    lines = shown(caplog)
    assert report.run is not None
    assert lines[1:] == [
        f"kcna run {report.run.id}: ok in {report.seconds:.1f}s — pages 3, new 1, changed 0,"
        " unchanged 2, failed 0; 1 run due while it ran skipped; 1 run missed (the daemon was"
        " late by more than the misfire grace)",
        "stopping",
        "stopped",
    ]


def test_job_notes_are_told_once() -> None:
    notes = JobNotes()
    for _ in range(3):
        notes.skipped("kcna")
    notes.missed("kcnawatch")
    assert notes.take("kcna") == ["3 runs due while it ran skipped"]
    assert notes.take("kcna") == []
    assert notes.take("kcnawatch") == [
        "1 run missed (the daemon was late by more than the misfire grace)"
    ]


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([], None),
        ([f"{STAMP} INFO [scrapy.core.engine] Spider opened"], None),
        (OFFLINE, f"{OFFLINE_REASON} (and 1 more)"),
        (OFFLINE[:2], f"could not fetch {LISTING}: DNSLookupError: {DNS} (and 1 more)"),
        (OFFLINE[-1:], "nothing could be fetched"),
        (
            # the command's own words win; a more severe line of the crawler's comes first
            [
                *OFFLINE[:2],
                f"{STAMP} ERROR [kcna] cannot reach www.kcna.kp (DNS lookup failed)",
                "kcna-monitor: error: kcna: cannot reach www.kcna.kp — set a proxy",
            ],
            "kcna: cannot reach www.kcna.kp — set a proxy",
        ),
        (
            [*OFFLINE[:2], f"{STAMP} ERROR [kcna] cannot reach www.kcna.kp (DNS lookup failed)"],
            "cannot reach www.kcna.kp (DNS lookup failed) (and 2 more)",
        ),
        (
            [
                f"{STAMP} ERROR [twisted] Unhandled error",
                "  File x.py, line 1, in <module>",
                "kcna-monitor: error: unexpected ValueError: bad (run with --log-level DEBUG"
                " for the traceback)",
            ],
            "unexpected ValueError: bad (run with --log-level DEBUG for the traceback)",
        ),
        (
            # a crash in Twisted: the error, not the line announcing its traceback
            [
                f"{STAMP} CRITICAL [twisted] Unhandled error in Deferred:",
                f"{STAMP} CRITICAL [twisted]  (ModuleNotFoundError: No module named 'no')",
                OFFLINE[-1],
            ],
            "nothing could be fetched: ModuleNotFoundError: No module named 'no'",
        ),
        ([f"{STAMP} WARNING [kcna] " + "x" * 400], "x" * 299 + "…"),
    ],
)
def test_the_reason_of_a_failed_run_is_what_the_child_said(
    lines: list[str], reason: str | None
) -> None:
    child = ChildLines("kcna run 7")
    for line in lines:
        child(line)
    assert child.reason() == reason


def test_a_child_process_lines_reach_its_run(caplog: pytest.LogCaptureFixture) -> None:
    script = (
        "import sys\n"
        f"sys.stderr.write({OFFLINE[1]!r} + '\\n')\n"
        "sys.stderr.write('Traceback (most recent call last):\\n  File x\\nKeyError: 1\\n')\n"
        f"sys.stderr.write({OFFLINE[2]!r} + '\\n')\n"
        "sys.exit(1)\n"
    )
    lines = ChildLines("kcna run 7")
    caplog.set_level(logging.DEBUG, logger="daemon")
    result = ChildCrawl([sys.executable, "-c", script], timeout=WAIT, output=lines).run()
    assert result.returncode == 1
    assert debug(caplog) == [
        f"kcna run 7: {OFFLINE[1].removeprefix(STAMP + ' ')}",
        f"kcna run 7: {OFFLINE[2]}",
    ]
    assert lines.reason() == f"{OFFLINE_REASON}"
