"""Store articles, raw pages and failures; record the crawl run. The crawler's one door to storage.

Items are buffered and written in batches, each batch one transaction of
``INSERT ... ON CONFLICT`` statements, off the reactor thread: when a batch is full, every
``flush_every`` seconds whether or not items arrive, on the first stop request
(:data:`crawler.signals.stop_requested`) and when the spider closes. So a crawl stopped at its
time limit, by the daemon or by Ctrl-C keeps what it had parsed, and one killed outright loses
at most a few seconds of work. A batch the database refuses (locked, unreachable, disk full)
stays in the buffer and is tried again; what still cannot be written at the end goes to a
spool file that the next crawl loads first. An article neither stored nor spooled fails the
run, loudly.

Nothing is remembered as seen before what it vouches for is stored: the ETag/Last-Modified
of listing pages and what the listings showed are written only at the end of a crawl that
finished with every article stored. A crawl that did not finish (killed, stopped, failed)
makes the next one read its listings again in full (see :attr:`ArchiveState.recovering`).

It also writes what revisits found (a page re-checked, an article gone: marked, never
deleted). These are not spooled: the next revisit finds them again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured, UsageError

from crawler.items import (
    ArticleItem,
    CheckedItem,
    FailureItem,
    GoneItem,
    ListingItem,
    ProgressItem,
)
from crawler.pipelines.spool import Spool
from crawler.signals import archive_opened, stop_requested
from crawler.sources import aggregator_hosts
from crawler.state import ArchiveState, Validators
from storage.db import StorageError, make_engine, migrate
from storage.records import ArticleInput, FailureInput, RawPage, RunStats, SaveOutcome
from storage.repository import Repository

logger = logging.getLogger(__name__)

STAT_PREFIX = "kcna_monitor/"


def to_input(item: ArticleItem, keep_page: bool) -> ArticleInput:
    record = item.record
    page = None
    if keep_page and item.body is not None:
        page = RawPage(
            url=record.url,
            body=item.body,
            fetched_at=item.seen_at,
            status=item.status,
            parser_version=item.parser_version,
            content_type=item.content_type,
        )
    return ArticleInput(
        url=record.url,
        canonical_url=record.canonical_url,
        source=record.source,
        title=record.title,
        text=record.text,
        published=record.published,
        published_from=record.published_from,
        dateline=record.dateline,
        categories=tuple(record.categories),
        source_key=record.source_key,
        seen_at=item.seen_at,
        page=page,
    )


@dataclass
class Counts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    failures: int = 0
    unsaved: int = 0
    gone: int = 0
    back: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Recheck:
    """Which stored articles a recheck fetches again: published from ``since`` to ``until``
    (inclusive) and/or with one of ``ids``; all of the source's when nothing is given."""

    since: date | None = None
    until: date | None = None
    ids: tuple[str, ...] = ()


def recheck_from_settings(settings: Any) -> Recheck | None:
    """The recheck the settings ask for (``KCNA_MONITOR_RECHECK``), or None."""
    if not settings.getbool("KCNA_MONITOR_RECHECK", False):
        return None

    def day(name: str) -> date | None:
        value = settings.get(name)
        if not value:
            return None
        try:
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            raise UsageError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None

    ids = settings.getlist("KCNA_MONITOR_RECHECK_IDS")
    return Recheck(
        since=day("KCNA_MONITOR_RECHECK_SINCE"),
        until=day("KCNA_MONITOR_RECHECK_UNTIL"),
        ids=tuple(i.strip().lower() for i in ids if i.strip()),
    )


class StorePipeline:
    def __init__(
        self,
        db_url: str,
        *,
        source: str,
        batch_size: int = 50,
        keep_pages: bool = True,
        spool_dir: Path | None = None,
        site_prefixes: tuple[str, ...] = (),
        announce: Callable[[ArchiveState], None] | None = None,
        retry_window: timedelta = timedelta(days=7),
        backfill: bool = False,
        revisit_days: float = 7.0,
        revisit_every: timedelta = timedelta(hours=24),
        recheck: Recheck | None = None,
        clock: Callable[[], datetime] | None = None,
        flush_every: float = 10.0,
        pid: int | None = None,
        host: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.db_url = db_url
        self.source = source
        self.batch_size = batch_size
        self.keep_pages = keep_pages
        self.spool = Spool(spool_dir, source) if spool_dir is not None else None
        # Incremental crawling: what is stored under these URL prefixes is loaded when the
        # spider opens and handed to ``announce`` (the spider and middlewares listen).
        self.site_prefixes = site_prefixes
        self.announce = announce
        self.retry_window = retry_window
        self.backfill = backfill
        # A batch waits at most this long (seconds), items or not: a crawl killed hard loses
        # little. 0 turns the timer off (batches are then written when full and at the end).
        self.flush_every = flush_every
        self._flushed_at = time.monotonic()
        # Revisits: articles younger than ``revisit_days`` (0: none) are fetched again once
        # per ``revisit_every``; a recheck fetches again the articles it names instead.
        self.revisit_days = revisit_days
        self.revisit_every = revisit_every
        self.recheck = recheck
        self.clock = clock or _now
        # The process that records this run's outcome; runs of dead ones are settled.
        self.pid = pid if pid is not None else os.getpid()
        self.host = host or socket.gethostname()
        self.state: ArchiveState | None = None
        self.repo: Repository | None = None
        self.run_id: int | None = None
        self.counts = Counts()
        self._articles: list[ArticleInput] = []
        self._failures: list[FailureInput] = []
        self._progress: dict[str, tuple[int, int | None]] = {}  # backfills: pages done
        self._gone: list[GoneItem] = []
        self._checked: list[CheckedItem] = []
        self._listings: dict[str, tuple[str, ...] | None] = {}  # written at the close
        self._later_pages: set[str] = set()  # listing pages past a listing's first
        self._lock = asyncio.Lock()
        self._stats: Any = None
        self._timer: asyncio.Task[None] | None = None
        #: Why the last write failed (None once a write succeeds again).
        self._write_error: str | None = None
        #: Articles that could be neither stored nor spooled, and why: the run fails.
        self._lost: str | None = None
        self._spooled = 0
        self._stopping = False  # a stop was requested: each item is written as it comes
        self._finished = False  # the run's outcome is recorded (a stop request came first)

    @property
    def kind(self) -> str:
        """What kind of run this is: a ``crawl``, a ``backfill`` or a ``recheck``."""
        if self.recheck is not None:
            return "recheck"
        return "backfill" if self.backfill else "crawl"

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        settings = crawler.settings
        db_url = settings.get("KCNA_MONITOR_DB")
        if not db_url:
            raise NotConfigured("KCNA_MONITOR_DB is not set: articles are not stored")
        spool = settings.get("KCNA_MONITOR_SPOOL_DIR")
        pipeline = cls(
            db_url,
            source=getattr(crawler.spidercls, "source_label", crawler.spidercls.name),
            batch_size=settings.getint("KCNA_MONITOR_BATCH_SIZE", 50),
            keep_pages=settings.getbool("KCNA_MONITOR_KEEP_PAGES", True),
            spool_dir=Path(spool) if spool else None,
            flush_every=settings.getfloat("KCNA_MONITOR_FLUSH_SECONDS", 10.0),
        )
        if settings.getbool("KCNA_MONITOR_INCREMENTAL", True):
            source = getattr(crawler.spidercls, "source", None)  # a crawler.sources.Source
            pipeline.site_prefixes = source.site_prefixes() if source is not None else ()
            pipeline.backfill = settings.getbool("KCNA_MONITOR_BACKFILL", False)
            pipeline.retry_window = timedelta(
                days=settings.getfloat("KCNA_MONITOR_RETRY_FAILED_DAYS", 7.0)
            )
            pipeline.revisit_days = settings.getfloat("KCNA_MONITOR_REVISIT_DAYS", 7.0)
            pipeline.revisit_every = timedelta(
                hours=settings.getfloat("KCNA_MONITOR_REVISIT_EVERY", 24.0)
            )
            pipeline.recheck = recheck_from_settings(settings)
            pipeline.announce = lambda state: crawler.signals.send_catch_log(
                signal=archive_opened, state=state
            )
        else:
            pipeline.backfill = settings.getbool("KCNA_MONITOR_BACKFILL", False)
        # A run the caller recorded already (the daemon does, to finish it if the crawl dies).
        pipeline.run_id = settings.getint("KCNA_MONITOR_RUN_ID", 0) or None
        pipeline._stats = crawler.stats
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.stop_requested, signal=stop_requested)
        return pipeline

    # -- lifecycle ----------------------------------------------------------------------

    async def open_spider(self) -> None:
        self.repo = await asyncio.to_thread(self._open_repository)
        await asyncio.to_thread(self._settle_dead_runs)
        if self.run_id is None:
            self.run_id = await asyncio.to_thread(
                self.repo.runs.start,
                self.source,
                _now(),
                kind=self.kind,
                pid=self.pid,
                host=self.host,
            )
        else:
            await asyncio.to_thread(
                self.repo.runs.claim, self.run_id, kind=self.kind, pid=self.pid, host=self.host
            )
        self._set_stat("run_id", self.run_id)
        if self.announce is not None:
            self.state = await asyncio.to_thread(self._load_state)
            self.announce(self.state)
        await self._load_spool()
        if self.flush_every > 0:
            self._timer = asyncio.get_running_loop().create_task(self._flush_timer())

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

    def _load_state(self) -> ArchiveState:
        assert self.repo is not None
        now = self.clock()
        known = self.repo.crawl_state.known_urls(self.site_prefixes)
        revisit = self._revisit_urls(now)
        stored = self.repo.crawl_state.validators(self.site_prefixes, listings_only=True)
        stored.update(self.repo.crawl_state.validators((), urls=revisit))
        failed = self.repo.crawl_state.failed_urls(
            self.site_prefixes, since=now - self.retry_window
        )
        state = ArchiveState.of(
            known, {url: Validators(*pair) for url, pair in stored.items()}, failed
        )
        state.revisit_urls = revisit
        state.gone_urls = self.repo.crawl_state.gone_urls(self.site_prefixes)
        self._set_stat("revisits_due", len(revisit))
        if self.backfill:
            progress = self.repo.crawl_state.backfill_progress(self.source)
            state.pages_done = {url: done for url, (done, _count) in progress.items()}
        elif self.recheck is None:
            state.recovering = self.repo.runs.last_crawl_unfinished(
                self.source, before_run=self.run_id
            )
            if state.recovering:
                self._set_stat("recovering", 1)
                logger.info(
                    "%s: the last crawl did not finish: its listings are read again in full",
                    self.source,
                )
        return state

    def _revisit_urls(self, now: datetime) -> dict[str, date | None]:
        assert self.repo is not None
        if self.recheck is not None:
            recheck = self.recheck
            return self.repo.crawl_state.urls_for_recheck(
                self.site_prefixes, since=recheck.since, until=recheck.until, ids=recheck.ids
            )
        if self.revisit_days <= 0:
            return {}
        return self.repo.crawl_state.due_for_revisit(
            self.site_prefixes,
            young_since=now - timedelta(days=self.revisit_days),
            checked_before=now - self.revisit_every,
        )

    def _open_repository(self) -> Repository:
        engine = make_engine(self.db_url)
        migrate(engine)
        return Repository(engine, aggregator_hosts=aggregator_hosts())

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticleItem):
            self._articles.append(to_input(item, self.keep_pages))
        elif isinstance(item, ProgressItem):
            # Written with (after) the articles buffered before it, never ahead of them.
            self._progress[item.listing_url] = (item.pages_done, item.page_count)
        elif isinstance(item, FailureItem):
            self._failures.append(
                FailureInput(url=item.url, reason=item.reason, at=item.at, listed_on=item.listed_on)
            )
            self.counts.failures += 1
            self._inc_stat("failures")
        elif isinstance(item, GoneItem):
            self._gone.append(item)
        elif isinstance(item, CheckedItem):
            self._checked.append(item)
        elif isinstance(item, ListingItem):
            self._listings[item.listing] = item.urls
            if item.page is not None and item.page > 1:
                self._later_pages.add(item.listing)
            return item
        else:
            return item
        if self._pending() >= self.batch_size or self._stopping:
            await self.flush()  # once stopping, each item as it comes: the exit may be near
        return item

    def _pending(self) -> int:
        pending = len(self._articles) + len(self._failures) + len(self._gone) + len(self._checked)
        return pending + len(self._progress)

    async def _flush_timer(self) -> None:
        """Write what waits once it has waited ``flush_every`` seconds, items or not."""
        while not self._finished:
            waited = time.monotonic() - self._flushed_at
            await asyncio.sleep(max(self.flush_every - waited, 0.05))
            if self._pending() and time.monotonic() - self._flushed_at >= self.flush_every:
                await self.flush()

    def _stop_timer(self) -> None:
        if self._timer is not None and asyncio.current_task() is not self._timer:
            self._timer.cancel()
        self._timer = None

    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any) -> None:
        url = item.record.url if isinstance(item, ArticleItem) else getattr(item, "url", "?")
        reason = str(exception) or type(exception).__name__
        self._failures.append(FailureInput(url=url, reason=f"dropped: {reason}", at=_now()))
        self.counts.failures += 1
        self._inc_stat("failures")

    async def stop_requested(self) -> None:
        """The crawl is asked to stop: store everything parsed so far and record the run as
        interrupted now, before in-flight downloads are abandoned."""
        if self._finished:
            return
        self._stopping = True
        await self._store_everything()
        await self._record_end("shutdown")

    async def close_spider(self) -> None:
        await self._store_everything()  # after a stop request too: what it abandoned failed

    async def _store_everything(self) -> None:
        """Write all that waits, what arrives meanwhile included; spool what the database
        refuses."""
        self._stop_timer()
        await self.flush()
        # Arrived while it was writing (revisit marks that fail wait for the next revisit).
        while (self._articles or self._failures or self._progress) and not self._write_error:
            await self.flush()
        if self._articles:
            await self._write_spool()

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self._finished:
            return
        if reason == "finished" and self._all_stored():
            # Only now is what the listings showed vouched for by stored articles.
            await self._record_listings()
            await self._save_validators()
        await self._record_end(reason)

    def _all_stored(self) -> bool:
        return not (self._articles or self._failures or self._spooled or self._lost)

    async def _record_end(self, reason: str) -> None:
        """Record the run's outcome (once)."""
        self._finished = True
        if self.repo is None or self.run_id is None:
            return
        pages = int(self._stat("downloader/response_count", 0, prefixed=False))
        status = run_status(reason, pages)
        error = self._trouble()
        if error is not None:
            status = "failed"
        else:
            error = "; ".join(self.counts.errors[-3:]) or (None if reason == "finished" else reason)
        self._set_stat("run_status", status)
        if error:
            self._set_stat("run_error", error)
        try:
            await asyncio.to_thread(
                self.repo.runs.finish,
                self.run_id,
                finished_at=_now(),
                status=status,
                pages=pages,
                new=self.counts.new,
                changed=self.counts.changed,
                unchanged=self.counts.unchanged,
                failures=self.counts.failures,
                error=error,
            )
            # What the source's health checks read: listing pages, empty ones, parse failures.
            stats = run_stats(self._stats.get_stats() if self._stats else {})
            await asyncio.to_thread(self.repo.runs.save_stats, self.run_id, stats, _now())
        except StorageError as exc:
            logger.error("could not record the end of crawl run %s: %s", self.run_id, exc)

    def _trouble(self) -> str | None:
        """Why this run must count as failed although it ran: articles not stored."""
        if self._lost:
            return self._lost
        if self._spooled:
            return (
                f"the database refused {self._spooled} articles"
                f" ({self._write_error or 'not written in time'}); they are spooled for the"
                " next crawl"
            )
        if self._failures and self._write_error:
            return f"could not record {len(self._failures)} failures: {self._write_error}"
        return None

    # -- writing ------------------------------------------------------------------------

    async def flush(self) -> None:
        self._flushed_at = time.monotonic()
        async with self._lock:
            articles, failures, progress = self._articles, self._failures, self._progress
            gone, checked = self._gone, self._checked
            if not (articles or failures or progress or gone or checked) or self.repo is None:
                return
            self._articles, self._failures, self._progress = [], [], {}
            self._gone, self._checked = [], []
            try:
                results = await asyncio.to_thread(self._write, articles, failures, progress)
            except StorageError as exc:
                # Keep them for the next attempt; nothing is lost.
                self._articles[:0] = articles
                self._failures[:0] = failures
                self._progress = {**progress, **self._progress}
                self._gone[:0] = gone
                self._checked[:0] = checked
                message = f"could not store {len(articles)} articles: {exc}"
                if str(exc) != self._write_error:  # one line per kind of trouble, not per try
                    self.counts.errors.append(message)
                    logger.error(message)
                self._write_error = str(exc)
                return
            self._write_error = None
            try:
                await asyncio.to_thread(self._write_checks, gone, checked)
            except StorageError as exc:
                self._gone[:0] = gone
                self._checked[:0] = checked
                logger.warning("could not record %d revisits: %s", len(gone) + len(checked), exc)
            for result in results:
                outcome = result.outcome
                if outcome is SaveOutcome.NEW:
                    self.counts.new += 1
                elif outcome is SaveOutcome.CHANGED:
                    self.counts.changed += 1
                else:
                    self.counts.unchanged += 1
                self._inc_stat(outcome.value)
            await self._save_counts()

    async def _save_counts(self) -> None:
        """Keep the run's row current: a crawl that dies leaves its counters."""
        if self.repo is None or self.run_id is None or self._finished:
            return
        try:
            await asyncio.to_thread(
                self.repo.runs.update_counts,
                self.run_id,
                pages=int(self._stat("downloader/response_count", 0, prefixed=False)),
                new=self.counts.new,
                changed=self.counts.changed,
                unchanged=self.counts.unchanged,
                failures=self.counts.failures,
            )
        except StorageError as exc:  # the end of the run records them again
            logger.debug("could not update the counters of run %s: %s", self.run_id, exc)

    def _write_checks(self, gone: Sequence[GoneItem], checked: Sequence[CheckedItem]) -> None:
        """Mark gone what answered so, then record the checks (a 304 brings one back)."""
        assert self.repo is not None
        for item in gone:
            marked = self.repo.crawl_state.mark_gone([item.url], at=item.at, reason=item.reason)
            self.counts.gone += len(marked)
            for _ in marked:
                self._inc_stat("gone")
        for still_there in (False, True):
            urls = [c.url for c in checked if c.still_there is still_there]
            if urls:
                at = max(c.at for c in checked if c.still_there is still_there)
                back = self.repo.crawl_state.mark_checked(urls, at, still_there=still_there)
                self.counts.back += len(back)
                for _ in back:
                    self._inc_stat("back")

    async def _record_listings(self) -> None:
        """Write what the listing pages showed; the archive marks gone what vanished."""
        if not self._listings or self.repo is None:
            return
        pages, self._listings = self._listings, {}
        try:
            marked = await asyncio.to_thread(
                self.repo.crawl_state.record_listings,
                pages,
                self.clock(),
                later_pages=self._later_pages,
            )
        except StorageError as exc:  # only delays noticing a vanished article
            logger.warning("could not record what %d listing pages showed: %s", len(pages), exc)
            return
        self.counts.gone += len(marked)
        for _ in marked:
            self._inc_stat("gone")
        if marked:
            logger.info("%d articles vanished from their listings: marked gone", len(marked))

    async def _save_validators(self) -> None:
        if self.state is None or self.repo is None:
            return
        learnt = self.state.take_learnt()
        if not learnt:
            return
        pairs = {url: (v.etag, v.last_modified) for url, v in learnt.items()}
        try:
            await asyncio.to_thread(self.repo.crawl_state.save_validators, pairs, _now())
        except StorageError as exc:  # only costs a full fetch of those pages next time
            logger.warning("could not store the validators of %d pages: %s", len(pairs), exc)

    def _write(
        self,
        articles: Sequence[ArticleInput],
        failures: Sequence[FailureInput],
        progress: dict[str, tuple[int, int | None]],
    ) -> list:
        assert self.repo is not None
        results = self.repo.articles.save(articles) if articles else []
        if failures:
            self.repo.runs.record_failures(self.run_id, failures)
        if progress:
            self.repo.crawl_state.save_backfill_progress(self.source, progress, _now())
        return results

    # -- spool: articles the database would not take ------------------------------------

    async def _write_spool(self) -> None:
        """Append the articles the database refused to the spool, durably; when that fails
        too, the run fails and says so (the next crawl fetches them again)."""
        articles, self._articles = self._articles, []
        count = len(articles)
        if self.spool is None:
            self._lose(count, "no spool folder is set (KCNA_MONITOR_SPOOL_DIR)")
            return
        try:
            await asyncio.to_thread(self.spool.append, articles)
        except OSError as exc:
            self._lose(count, f"could not spool them to {self.spool.path}: {exc.strerror or exc}")
            return
        self._spooled += count
        self.counts.unsaved += count
        logger.error(
            "the database refused %d articles (%s): kept in %s for the next crawl",
            count,
            self._write_error or "not written in time",
            self.spool.path,
        )

    def _lose(self, count: int, why: str) -> None:
        self.counts.unsaved += count
        self._lost = (
            f"{count} articles could not be stored ({self._write_error}) and {why}; the next"
            " crawl fetches them again"
        )
        logger.error("%s", self._lost)

    async def _load_spool(self) -> None:
        """Store what earlier crawls spooled (see :mod:`crawler.pipelines.spool`)."""
        if self.spool is None:
            return
        try:
            taken = await asyncio.to_thread(self.spool.take)
        except OSError as exc:
            logger.error("could not read the spool %s: %s", self.spool.path, exc)
            return
        if taken is None:
            return
        articles, bad = taken
        if bad:
            logger.warning(
                "%s: skipped %d unreadable lines (a write cut short)", self.spool.loading, bad
            )
        logger.info("loading %d spooled articles from %s", len(articles), self.spool.loading)
        self._articles.extend(articles)
        await self.flush()
        if self._articles:  # still no database: they stay in the file for the next crawl
            self._articles = []
            logger.error(
                "database unavailable: the spooled articles stay in %s", self.spool.loading
            )
            return
        self.spool.loaded()

    # -- stats --------------------------------------------------------------------------

    def _inc_stat(self, name: str) -> None:
        if self._stats is not None:
            self._stats.inc_value(STAT_PREFIX + name)

    def _set_stat(self, name: str, value: Any) -> None:
        if self._stats is not None:
            self._stats.set_value(STAT_PREFIX + name, value)

    def _stat(self, name: str, default: Any, prefixed: bool = True) -> Any:
        if self._stats is None:
            return default
        return self._stats.get_value((STAT_PREFIX if prefixed else "") + name, default)


def run_status(reason: str, pages: int) -> str:
    """The stored status of a run from Scrapy's close reason and the pages it fetched."""
    if reason == "shutdown":
        return "interrupted"
    if reason != "finished":
        return "failed"
    return "ok" if pages else "failed"


def run_stats(stats: Mapping[str, Any]) -> RunStats:
    """What the run parsed, from the crawl's Scrapy stats (``kcna_monitor/listing_pages``
    ...): the figures the source's health checks read."""

    def value(name: str) -> int:
        return int(stats.get(STAT_PREFIX + name) or 0)

    return RunStats(
        listing_pages=value("listing_pages"),
        empty_listings=value("empty_listings"),
        articles_parsed=value("articles_parsed"),
        parse_failures=value("parse_failures"),
        not_articles=value("not_an_article"),
        fetch_failures=value("fetch_failures"),
    )


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
