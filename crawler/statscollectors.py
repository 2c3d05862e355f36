"""The crawl's stats collector: Scrapy's in-memory one, which also records the run in the
archive from the stats. One of the crawler's three doors to storage, with the storing pipeline
(:mod:`crawler.pipelines.store`) and the archive-state extension
(:mod:`crawler.extensions.archive`).

The run is recorded when the spider opens (in ``open_spider``, which Scrapy calls before
``spider_opened``: every component's handler finds the run's id in the stats,
:data:`crawler.stats.RUN_ID`), after settling the runs that crawls which died left
``running``. Its counters are kept current after each batch the storing pipeline writes
(:data:`crawler.signals.batch_stored`), so a crawl that dies leaves them. Its outcome is
recorded once: when the pipeline has stored what it held at a stop request
(:data:`crawler.signals.stop_stored`: interrupted), else when the spider closes: status,
counters, error, and the parse statistics the health checks read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.statscollectors import MemoryStatsCollector

from crawler import stats as keys
from crawler.plan import CrawlPlan
from crawler.signals import batch_stored, stop_stored
from storage.db import StorageError, make_engine, migrate
from storage.records import RunStats
from storage.repository import Repository

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def run_status(reason: str, pages: int) -> str:
    """The stored status of a run from Scrapy's close reason and the pages it fetched."""
    if reason == "shutdown":
        return "interrupted"
    if reason != "finished":
        return "failed"
    return "ok" if pages else "failed"


def outcome(stats: Mapping[str, Any], reason: str) -> tuple[str, str | None]:
    """The status of a run and why it failed or stopped (None when it says nothing)."""
    status = run_status(reason, int(stats.get(keys.RESPONSES) or 0))
    trouble = stats.get(keys.STORE_TROUBLE)
    if trouble:
        return "failed", str(trouble)
    error = stats.get(keys.STORE_ERRORS) or (None if reason == "finished" else reason)
    if status == "failed" and not error:  # nothing fetched: say why, when a host was unreachable
        error = stats.get(keys.UNREACHABLE)
    return status, error


def run_stats(stats: Mapping[str, Any]) -> RunStats:
    """What a run parsed, from the crawl's stats."""

    def value(key: str) -> int:
        return int(stats.get(key) or 0)

    return RunStats(
        listing_pages=value(keys.LISTING_PAGES),
        empty_listings=value(keys.EMPTY_LISTINGS),
        articles_parsed=value(keys.ARTICLES_PARSED),
        parse_failures=value(keys.PARSE_FAILURES),
        not_articles=value(keys.NOT_AN_ARTICLE),
        fetch_failures=value(keys.FETCH_FAILURES),
    )


def _counts(stats: Mapping[str, Any]) -> dict[str, int]:
    return {
        name: int(stats.get(key) or 0)
        for name, key in (
            ("pages", keys.RESPONSES),
            ("new", keys.NEW),
            ("changed", keys.CHANGED),
            ("unchanged", keys.UNCHANGED),
            ("failures", keys.FAILURES),
        )
    }


class RunRecorder:
    """Records one crawl run of ``source`` from the crawl's stats.

    ``run_id`` is a run recorded already (the daemon records it, to finish it if the crawl
    dies): the crawl claims it. ``pid`` and ``host`` name the process that records the
    outcome; runs left ``running`` by dead processes of this host are settled first.
    """

    def __init__(
        self,
        db_url: str,
        *,
        source: str,
        kind: str = "crawl",
        run_id: int | None = None,
        pid: int | None = None,
        host: str | None = None,
    ) -> None:
        self.db_url = db_url
        self.source = source
        self.kind = kind
        self.run_id = run_id
        self.pid = pid if pid is not None else os.getpid()
        self.host = host or socket.gethostname()
        self.repo: Repository | None = None
        self.finished = False  # the outcome is recorded
        self._outcome: tuple[datetime, str, str | None] | None = None  # when, status, error

    def open(self) -> int:
        """Record the run as running (or claim the one given); returns its id."""
        engine = make_engine(self.db_url)
        migrate(engine)
        self.repo = repo = Repository(engine)
        self._settle_dead_runs()
        if self.run_id is None:
            self.run_id = repo.runs.start(
                self.source, _now(), kind=self.kind, pid=self.pid, host=self.host
            )
        else:
            repo.runs.claim(self.run_id, kind=self.kind, pid=self.pid, host=self.host)
        return self.run_id

    def _settle_dead_runs(self) -> None:
        assert self.repo is not None
        for run in self.repo.runs.settle_dead(host=self.host, is_alive=_pid_alive, at=_now()):
            logger.warning(
                "%s: run %d (started %s) was left unfinished by a crawl that died;"
                " recorded as interrupted (new %d, changed %d kept)",
                run.source,
                run.id,
                run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                run.new,
                run.changed,
            )

    def save_counts(self, stats: Mapping[str, Any]) -> None:
        """Keep the run's row current: a crawl that dies leaves its counters."""
        if self.repo is None or self.run_id is None or self.finished:
            return
        try:
            self.repo.runs.update_counts(self.run_id, **_counts(stats))
        except StorageError as exc:  # the end of the run records them again
            logger.debug("could not update the counters of run %s: %s", self.run_id, exc)

    def finish(self, stats: Mapping[str, Any], reason: str) -> tuple[str, str | None]:
        """Record the run's outcome (once); returns its status and error."""
        self.finished = True
        status, error = outcome(stats, reason)
        self._outcome = (_now(), status, error)
        self._record(stats)
        return status, error

    def recount(self, stats: Mapping[str, Any]) -> None:
        """Record the final counters of a run whose outcome is recorded already: a stopped
        crawl stores what it parsed after the stop too, and each of those counts."""
        if self._outcome is not None:
            self._record(stats)

    def _record(self, stats: Mapping[str, Any]) -> None:
        if self.repo is None or self.run_id is None or self._outcome is None:
            return
        finished_at, status, error = self._outcome
        try:
            self.repo.runs.finish(
                self.run_id, finished_at=finished_at, status=status, error=error, **_counts(stats)
            )
            # What the source's health checks read: listing pages, empty ones, parse failures.
            self.repo.runs.save_stats(self.run_id, run_stats(stats), _now())
        except StorageError as exc:
            logger.error("could not record the end of crawl run %s: %s", self.run_id, exc)


class RunStatsCollector(MemoryStatsCollector):
    """Scrapy's in-memory stats collector that records the crawl's run in the archive
    (:class:`RunRecorder`) when ``KCNA_MONITOR_DB`` is set."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        db_url = settings.get("KCNA_MONITOR_DB")
        self.recorder: RunRecorder | None = None
        self._ending = False  # the run's outcome is being recorded (once)
        self._lock = asyncio.Lock()  # the run's writes, one at a time and in order
        if not db_url:
            return
        spidercls = crawler.spidercls
        self.recorder = RunRecorder(
            db_url,
            source=getattr(spidercls, "source_label", spidercls.name),
            kind=CrawlPlan.from_settings(settings).run_kind,
            run_id=settings.getint("KCNA_MONITOR_RUN_ID", 0) or None,
        )
        crawler.signals.connect(self.batch_stored, signal=batch_stored)
        crawler.signals.connect(self.stop_stored, signal=stop_stored)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def open_spider(self, spider: Spider | None = None) -> None:
        super().open_spider()
        if self.recorder is not None:
            self.set_value(keys.RUN_ID, self.recorder.open())

    async def batch_stored(self) -> None:
        """Keep the run's counters current; after a stop too, as what was parsed before it
        goes on being stored (and a stopped process may be ended before it closes)."""
        if self.recorder is None:
            return
        async with self._lock:
            stats = dict(self.get_stats())
            if self._ending:
                await asyncio.to_thread(self.recorder.recount, stats)
            else:
                await asyncio.to_thread(self.recorder.save_counts, stats)

    async def stop_stored(self) -> None:
        await self._finish("shutdown")

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self.recorder is not None and self._ending:  # stopped: the outcome is recorded
            async with self._lock:
                await asyncio.to_thread(self.recorder.recount, dict(self.get_stats()))
            return
        await self._finish(reason)

    async def _finish(self, reason: str) -> None:
        if self.recorder is None or self._ending:
            return
        self._ending = True
        # One write of the run at a time, each with the stats as they are when it starts: a
        # batch counted after this snapshot is recorded by its own batch_stored.
        async with self._lock:
            status, error = await asyncio.to_thread(
                self.recorder.finish, dict(self.get_stats()), reason
            )
        self.set_value(keys.RUN_STATUS, status)
        if error:
            self.set_value(keys.RUN_ERROR, error)


def _now() -> datetime:
    return datetime.now(UTC)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
