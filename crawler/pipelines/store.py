"""Store articles, raw pages and failures in batches; also revisit marks, what listings
showed and the categories they give. One of the crawler's three doors to storage, with the
archive-state extension (:mod:`crawler.extensions.archive`) and the stats collector
(:mod:`crawler.statscollectors`).

Items are buffered and written in batches (one transaction each, off the reactor thread) when
a batch is full, every ``flush_every`` seconds, on the first stop request
(:data:`crawler.signals.stop_requested`) and at the close: a stopped crawl keeps what it
parsed, one killed outright loses seconds of work. A batch the database refuses stays in the
buffer and is tried again; what still cannot be written at the end is spooled
(:mod:`crawler.pipelines.spool`) for the next crawl; an article neither stored nor spooled
fails the run (:data:`~crawler.stats.STORE_TROUBLE`). Each batch written is announced
(:data:`crawler.signals.batch_stored`) for the stats collector. What the listings showed is
written only at the end of a crawl that finished with every article stored; revisit marks are
not spooled (the next revisit finds them again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler import stats as keys
from crawler.items import (
    ArticleItem,
    CategoryItem,
    CheckedItem,
    FailureItem,
    GoneItem,
    ListingItem,
    ProgressItem,
)
from crawler.pipelines import spool
from crawler.pipelines.inputs import failure_input, to_input
from crawler.signals import batch_stored, stop_requested, stop_stored
from crawler.sources import aggregator_hosts
from storage.db import StorageError, make_engine, migrate
from storage.records import ArticleInput, FailureInput, SaveOutcome, SaveResult
from storage.repository import Repository

logger = logging.getLogger(__name__)

#: What the pipeline announces: a signal of :mod:`crawler.signals`, sent and awaited.
Notify = Callable[[object], Awaitable[Any]]


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


class StorePipeline:
    def __init__(
        self,
        db_url: str,
        *,
        source: str,
        batch_size: int = 50,
        keep_pages: bool = True,
        spool_dir: Path | None = None,
        flush_every: float = 10.0,
        stats: Any,
        notify: Notify | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.db_url = db_url
        self.source = source
        self.batch_size = batch_size
        self.keep_pages = keep_pages
        self.spool = spool.Spool(spool_dir, source) if spool_dir is not None else None
        # A batch waits at most this long (seconds), items or not: a crawl killed hard loses
        # little. 0 turns the timer off (batches are then written when full and at the end).
        self.flush_every = flush_every
        self._flushed_at = time.monotonic()
        self.stats = stats  # Scrapy's stats collector: what was stored is counted there
        self.notify = notify
        self.clock = clock or _now
        self.repo: Repository | None = None
        self.counts = Counts()
        self._articles: list[ArticleInput] = []
        self._failures: list[FailureInput] = []
        self._progress: dict[str, tuple[int, int | None]] = {}  # backfills: pages done
        self._gone: list[GoneItem] = []
        self._checked: list[CheckedItem] = []
        self._listings: dict[str, tuple[str, ...] | None] = {}  # written at the close
        #: Article URL -> categories of the listings that showed it, for stored articles.
        self._categories: dict[str, list[str]] = {}
        self._later_pages: set[str] = set()  # listing pages past a listing's first
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        #: Why the last write failed (None once a write succeeds again).
        self._write_error: str | None = None
        #: Articles that could be neither stored nor spooled, and why: the run fails.
        self._lost: str | None = None
        self._spooled = 0
        self._stopping = False  # a stop was requested: each item is written as it comes

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        settings = crawler.settings
        db_url = settings.get("KCNA_MONITOR_DB")
        if not db_url:
            raise NotConfigured("KCNA_MONITOR_DB is not set: articles are not stored")
        spool_dir = settings.get("KCNA_MONITOR_SPOOL_DIR")
        pipeline = cls(
            db_url,
            source=getattr(crawler.spidercls, "source_label", crawler.spidercls.name),
            batch_size=settings.getint("KCNA_MONITOR_BATCH_SIZE", 50),
            keep_pages=settings.getbool("KCNA_MONITOR_KEEP_PAGES", True),
            spool_dir=Path(spool_dir) if spool_dir else None,
            flush_every=settings.getfloat("KCNA_MONITOR_FLUSH_SECONDS", 10.0),
            stats=crawler.stats,
            notify=lambda signal: crawler.signals.send_catch_log_async(signal=signal),
        )
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.stop_requested, signal=stop_requested)
        return pipeline

    # -- lifecycle ----------------------------------------------------------------------

    async def open_spider(self) -> None:
        self.repo = await asyncio.to_thread(self._open_repository)
        if self.spool is not None:
            await spool.load(self.spool, self._store_spooled)
        if self.flush_every > 0:
            self._timer = asyncio.get_running_loop().create_task(self._flush_timer())

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
            self._failures.append(failure_input(item))
            self.counts.failures += 1
            self._count(keys.FAILURES)
        elif isinstance(item, GoneItem):
            self._gone.append(item)
        elif isinstance(item, CheckedItem):
            self._checked.append(item)
        elif isinstance(item, CategoryItem):
            self._keep_categories({url: [item.category] for url in item.urls})
            return item
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
        while self._timer is not None:
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
        self._count(keys.FAILURES)

    async def stop_requested(self) -> None:
        """The crawl is asked to stop: store everything parsed so far now, before in-flight
        downloads are abandoned, and say so (the run is then recorded as interrupted)."""
        if self._stopping:
            return
        self._stopping = True
        await self._store_everything()
        if self.notify is not None:
            await self.notify(stop_stored)

    async def close_spider(self) -> None:
        await self._store_everything()  # after a stop request too: what it abandoned failed

    async def _store_everything(self) -> None:
        """Write all that waits, what arrives meanwhile included; spool what the database
        refuses. The stats then say whether everything reached the database."""
        self._stop_timer()
        await self.flush()
        # Arrived while it was writing (revisit marks that fail wait for the next revisit).
        while (self._articles or self._failures or self._progress) and not self._write_error:
            await self.flush()
        if self._articles:
            await self._write_spool()
        trouble = self._trouble()
        if trouble is not None:
            self.stats.set_value(keys.STORE_TROUBLE, trouble)

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if reason == "finished" and not self._stopping and self._all_stored():
            # Only now is what the listings showed vouched for by stored articles.
            await self._record_listings()

    def _all_stored(self) -> bool:
        return not (self._articles or self._failures or self._spooled or self._lost)

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
            gone, checked, categories = self._gone, self._checked, self._categories
            pending = articles or failures or progress or gone or checked or categories
            if not pending or self.repo is None:
                return
            self._articles, self._failures, self._progress = [], [], {}
            self._gone, self._checked, self._categories = [], [], {}
            try:
                results, waiting = await asyncio.to_thread(
                    self._write, articles, failures, progress, categories
                )
            except StorageError as exc:
                # Keep them for the next attempt; nothing is lost.
                self._articles[:0] = articles
                self._failures[:0] = failures
                self._progress = {**progress, **self._progress}
                self._gone[:0] = gone
                self._checked[:0] = checked
                self._keep_categories(categories)
                self._refused(f"could not store {len(articles)} articles: {exc}", str(exc))
                return
            self._write_error = None
            self._keep_categories(waiting)
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
                self._count(keys.PREFIX + outcome.value)
            if self.notify is not None:
                await self.notify(batch_stored)

    def _keep_categories(self, categories: dict[str, list[str]]) -> None:
        """Categories to add to articles at the next flush (one not stored yet waits; those
        still waiting at the close are of articles that were not stored)."""
        for url, listed in categories.items():
            waiting = self._categories.setdefault(url, [])
            waiting.extend(c for c in listed if c not in waiting)

    def _refused(self, message: str, error: str) -> None:
        """A batch the database refused: one line per kind of trouble, not per try."""
        if error != self._write_error:
            self.counts.errors.append(message)
            self.stats.set_value(keys.STORE_ERRORS, "; ".join(self.counts.errors[-3:]))
            logger.error(message)
        self._write_error = error

    def _write_checks(self, gone: Sequence[GoneItem], checked: Sequence[CheckedItem]) -> None:
        """Mark gone what answered so, then record the checks (a 304 brings one back)."""
        assert self.repo is not None
        for item in gone:
            marked = self.repo.crawl_state.mark_gone([item.url], at=item.at, reason=item.reason)
            self.counts.gone += len(marked)
            self._count(keys.GONE, len(marked))
        for still_there in (False, True):
            urls = [c.url for c in checked if c.still_there is still_there]
            if urls:
                at = max(c.at for c in checked if c.still_there is still_there)
                back = self.repo.crawl_state.mark_checked(urls, at, still_there=still_there)
                self.counts.back += len(back)
                self._count(keys.BACK, len(back))

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
        self._count(keys.GONE, len(marked))
        if marked:
            logger.info("%d articles vanished from their listings: marked gone", len(marked))

    def _write(
        self,
        articles: Sequence[ArticleInput],
        failures: Sequence[FailureInput],
        progress: dict[str, tuple[int, int | None]],
        categories: dict[str, list[str]],
    ) -> tuple[list[SaveResult], dict[str, list[str]]]:
        """Write a batch; the results, and the categories of articles not stored yet."""
        assert self.repo is not None
        results = self.repo.articles.save(articles) if articles else []
        waiting: dict[str, list[str]] = {}
        if categories:  # after the articles: a listing may show one stored in this batch
            try:
                added = self.repo.articles.add_categories(categories)
            except StorageError as exc:  # the articles are stored: only delays the categories
                logger.warning("could not add categories to %d articles: %s", len(categories), exc)
                added = set()
            waiting = {url: cats for url, cats in categories.items() if url not in added}
        if failures:
            self.repo.runs.record_failures(self.stats.get_value(keys.RUN_ID), failures)
        if progress:
            self.repo.crawl_state.save_backfill_progress(self.source, progress, _now())
        return results, waiting

    # -- spool: articles the database would not take ------------------------------------

    async def _write_spool(self) -> None:
        articles, self._articles = self._articles, []
        self.counts.unsaved += len(articles)
        lost = await spool.keep(self.spool, articles, self._write_error)
        if lost is None:
            self._spooled += len(articles)
        else:
            self._lost = lost

    async def _store_spooled(self, articles: list[ArticleInput]) -> bool:
        """Store articles an earlier crawl spooled; False when the database refuses them."""
        self._articles.extend(articles)
        await self.flush()
        if self._articles:  # still no database: they stay in the file for the next crawl
            self._articles = []
            return False
        return True

    def _count(self, key: str, count: int = 1) -> None:
        if count:
            self.stats.inc_value(key, count)


def _now() -> datetime:
    return datetime.now(UTC)
