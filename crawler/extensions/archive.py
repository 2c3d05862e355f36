"""Load what the archive knows of a source when the spider opens; write back what was learnt.

One of the crawler's three doors to storage, with the storing pipeline
(:mod:`crawler.pipelines.store`) and the stats collector (:mod:`crawler.statscollectors`).
On ``spider_opened`` it reads the source's known URLs (with their articles' titles) and
recently failed ones (with their listings' dates and categories), the validators of its
listing pages, the articles due for a revisit (or named by a recheck), a crawl's share of
an archive sweep (see :mod:`crawler.sweep`), those marked gone,
a backfill's progress, and whether the last crawl finished, into an
:class:`~crawler.state.ArchiveState` that it announces (:data:`crawler.signals.archive_opened`):
the spider and the conditional-request middleware listen.

The validators learnt during the crawl are written back only at the end of a crawl that
finished with every article stored (no :data:`crawler.stats.STORE_TROUBLE`): a crawl that did
not finish (killed, stopped, failed) makes the next one read its listings again in full (see
:attr:`ArchiveState.recovering`). Switched off for a plan that uses no archive (a refetch) and
when no database is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured

from crawler import stats as keys
from crawler.plan import CrawlPlan
from crawler.signals import archive_opened, stop_requested
from crawler.state import ArchiveState, Validators
from crawler.sweep import Sweep
from storage.db import StorageError, make_engine, migrate
from storage.repository import Repository

logger = logging.getLogger(__name__)


class ArchiveLoader:
    def __init__(
        self,
        db_url: str,
        *,
        source: str,
        site_prefixes: tuple[str, ...],
        plan: CrawlPlan | None = None,
        retry_window: timedelta = timedelta(days=7),
        revisit_days: float = 7.0,
        revisit_every: timedelta = timedelta(hours=24),
        sweep: Sweep | None = None,
        announce: Callable[[ArchiveState], Any] | None = None,
        stats: Any = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db_url = db_url
        self.source = source
        self.site_prefixes = site_prefixes
        self.plan = plan or CrawlPlan()
        # Article pages that failed within this window and are still not stored are retried.
        self.retry_window = retry_window
        # Revisits: articles younger than ``revisit_days`` (0: none) are fetched again once
        # per ``revisit_every``; a recheck fetches again the articles it names instead.
        self.revisit_days = revisit_days
        self.revisit_every = revisit_every
        # Crawls (not a recheck, a backfill or a refetch) also check a share of the archive.
        self.sweep = sweep if self.plan.kind == "crawl" else None
        self.announce = announce
        self.stats = stats
        self.clock = clock or (lambda: datetime.now(UTC))
        self.repo: Repository | None = None
        self.state: ArchiveState | None = None
        self.stopped = False  # a stop was requested: the crawl did not finish

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchiveLoader:
        settings = crawler.settings
        db_url = settings.get("KCNA_MONITOR_DB")
        plan = CrawlPlan.from_settings(settings)
        if not db_url or not plan.uses_archive:
            raise NotConfigured  # silently: no archive (the pipeline says so), or a refetch
        spidercls = crawler.spidercls
        registered = getattr(spidercls, "source", None)  # a crawler.sources.Source
        loader = cls(
            db_url,
            source=getattr(spidercls, "source_label", spidercls.name),
            site_prefixes=registered.site_prefixes() if registered is not None else (),
            plan=plan,
            retry_window=timedelta(days=settings.getfloat("KCNA_MONITOR_RETRY_FAILED_DAYS", 7.0)),
            revisit_days=settings.getfloat("KCNA_MONITOR_REVISIT_DAYS", 7.0),
            revisit_every=timedelta(hours=settings.getfloat("KCNA_MONITOR_REVISIT_EVERY", 24.0)),
            sweep=Sweep.from_settings(settings),
            announce=lambda state: crawler.signals.send_catch_log(
                signal=archive_opened, state=state
            ),
            stats=crawler.stats,
        )
        crawler.signals.connect(loader.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(loader.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(loader.stop_requested, signal=stop_requested)
        return loader

    async def spider_opened(self, spider: Any = None) -> None:
        """Load the archive's state (the stats collector has recorded the run already: its
        id is in the stats) and announce it."""
        run_id = self.stats.get_value(keys.RUN_ID) if self.stats is not None else None
        try:
            self.state = await asyncio.to_thread(self.load, run_id)
        except StorageError as exc:
            logger.error("%s: could not read the archive: %s", self.source, exc)
            raise CloseSpider("archive_unavailable") from exc
        if self.announce is not None:
            self.announce(self.state)

    def stop_requested(self) -> None:
        self.stopped = True

    async def spider_closed(self, spider: Any, reason: str) -> None:
        """Keep the validators learnt, if the crawl finished with every article stored."""
        trouble = self.stats.get_value(keys.STORE_TROUBLE) if self.stats is not None else None
        if reason != "finished" or self.stopped or trouble:
            return
        await self.save_validators()

    # -- reading --------------------------------------------------------------------------

    def load(self, run_id: int | None = None) -> ArchiveState:
        """What the archive knows of the source, for the run ``run_id`` (not counted as the
        last crawl)."""
        if self.repo is None:
            engine = make_engine(self.db_url)
            migrate(engine)
            self.repo = Repository(engine)
        repo = self.repo
        now = self.clock()
        titles = repo.crawl_state.known_titles(self.site_prefixes)
        revisit = self._revisit_urls(repo, now)
        sweep = self._sweep_urls(repo, now)
        stored = repo.crawl_state.validators(self.site_prefixes, listings_only=True)
        stored.update(repo.crawl_state.validators((), urls=[*revisit, *sweep]))
        failed = repo.crawl_state.failed_urls(self.site_prefixes, since=now - self.retry_window)
        state = ArchiveState.of(
            titles, {url: Validators(*pair) for url, pair in stored.items()}, failed
        )
        state.set_titles(titles)
        state.retry_categories = repo.crawl_state.failure_categories(failed)
        state.revisit_urls = revisit
        state.sweep_urls = sweep
        state.gone_urls = repo.crawl_state.gone_urls(self.site_prefixes)
        self._set_stat(keys.REVISITS_DUE, len(revisit))
        if self.sweep is not None:
            self._set_stat(keys.SWEEP_DUE, len(sweep))
        if self.plan.kind == "backfill":
            progress = repo.crawl_state.backfill_progress(self.source)
            state.pages_done = {url: done for url, (done, _count) in progress.items()}
        elif self.plan.kind == "crawl":
            state.recovering = repo.runs.last_crawl_unfinished(self.source, before_run=run_id)
            if state.recovering:
                self._set_stat(keys.RECOVERING, 1)
                logger.info(
                    "%s: the last crawl did not finish: its listings are read again in full",
                    self.source,
                )
        return state

    def _revisit_urls(self, repo: Repository, now: datetime) -> dict[str, date | None]:
        plan = self.plan
        if plan.kind == "recheck":
            return repo.crawl_state.urls_for_recheck(
                self.site_prefixes, since=plan.since, until=plan.until, ids=plan.ids
            )
        if self.revisit_days <= 0:
            return {}
        return repo.crawl_state.due_for_revisit(
            self.site_prefixes,
            young_since=now - timedelta(days=self.revisit_days),
            checked_before=now - self.revisit_every,
        )

    def _sweep_urls(self, repo: Repository, now: datetime) -> dict[str, date | None]:
        """This run's share of the sweep: :meth:`Sweep.quota` of the source's articles."""
        sweep = self.sweep
        if sweep is None:
            return {}
        cutoff = sweep.cutoff(now)
        progress = repo.crawl_state.sweep_progress(self.site_prefixes, since=cutoff)
        return repo.crawl_state.due_for_sweep(
            self.site_prefixes, checked_before=cutoff, limit=sweep.quota(progress.articles)
        )

    # -- writing back ---------------------------------------------------------------------

    async def save_validators(self) -> None:
        if self.state is None or self.repo is None:
            return
        learnt = self.state.take_learnt()
        if not learnt:
            return
        pairs = {url: (v.etag, v.last_modified) for url, v in learnt.items()}
        try:
            await asyncio.to_thread(self.repo.crawl_state.save_validators, pairs, datetime.now(UTC))
        except StorageError as exc:  # only costs a full fetch of those pages next time
            logger.warning("could not store the validators of %d pages: %s", len(pairs), exc)

    def _set_stat(self, key: str, value: Any) -> None:
        if self.stats is not None:
            self.stats.set_value(key, value)
