"""The crawler's storing components as a crawl wires them, built from plain values and driven
in Scrapy's order without a crawler: the storing pipeline, the archive-state extension (when
given the site's prefixes) and the run recorder of the stats collector, sharing one stats
dict and each other's signals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler import stats as keys
from crawler.extensions.archive import ArchiveLoader
from crawler.pipelines.store import StorePipeline
from crawler.plan import CrawlPlan
from crawler.signals import batch_stored, stop_stored
from crawler.state import ArchiveState
from crawler.statscollectors import RunRecorder


class Stats(dict):
    """Scrapy's stats collector interface over a dict."""

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self[key] = value

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self[key] = self.get(key, start) + count

    def get_stats(self) -> dict[str, Any]:
        return self


class Storing:
    def __init__(
        self,
        db_url: str,
        *,
        source: str = "kcna",
        site_prefixes: tuple[str, ...] = (),
        plan: CrawlPlan | None = None,
        clock: Callable[[], datetime] | None = None,
        spool_dir: Path | None = None,
        revisit_days: float = 7.0,
        **pipeline: Any,
    ) -> None:
        plan = plan or CrawlPlan()
        self.stats = Stats()
        self.announced: list[ArchiveState] = []
        self.pipeline = StorePipeline(
            db_url,
            source=source,
            spool_dir=spool_dir,
            stats=self.stats,
            notify=self._notify,
            clock=clock,
            **pipeline,
        )
        self.loader = (
            ArchiveLoader(
                db_url,
                source=source,
                site_prefixes=site_prefixes,
                plan=plan,
                revisit_days=revisit_days,
                announce=self.announced.append,
                stats=self.stats,
                clock=clock,
            )
            if site_prefixes
            else None
        )
        self.recorder = RunRecorder(db_url, source=source, kind=plan.run_kind)
        self._ending = False

    @property
    def counts(self) -> Any:
        return self.pipeline.counts

    @property
    def run_id(self) -> int | None:
        return self.recorder.run_id

    @property
    def state(self) -> ArchiveState | None:
        return self.loader.state if self.loader is not None else None

    async def _notify(self, signal: object) -> None:
        if signal is batch_stored:
            await asyncio.to_thread(self.recorder.save_counts, dict(self.stats))
        elif signal is stop_stored:
            await self._finish("shutdown")

    async def _finish(self, reason: str) -> None:
        if self._ending:
            return
        self._ending = True
        status, error = await asyncio.to_thread(self.recorder.finish, dict(self.stats), reason)
        self.stats.set_value(keys.RUN_STATUS, status)
        if error:
            self.stats.set_value(keys.RUN_ERROR, error)

    # -- Scrapy's order ---------------------------------------------------------------------

    async def open(self) -> None:
        """Pipelines open, then the stats collector, then ``spider_opened``."""
        await self.pipeline.open_spider()
        self.stats.set_value(keys.RUN_ID, await asyncio.to_thread(self.recorder.open))
        if self.loader is not None:
            await self.loader.spider_opened()

    async def process(self, items: Iterable[Any]) -> None:
        for item in items:
            await self.pipeline.process_item(item)

    async def stop(self) -> None:
        """``stop_requested``."""
        if self.loader is not None:
            self.loader.stop_requested()
        await self.pipeline.stop_requested()

    async def close(self, reason: str = "finished") -> None:
        """Pipelines close, then ``spider_closed``."""
        await self.pipeline.close_spider()
        await self.closed(reason)

    async def closed(self, reason: str = "finished") -> None:
        """``spider_closed``."""
        await self.pipeline.spider_closed(None, reason)
        if self.loader is not None:
            await self.loader.spider_closed(None, reason)
        await self._finish(reason)

    async def crawl(self, items: Iterable[Any] = (), reason: str = "finished") -> None:
        await self.open()
        await self.process(items)
        await self.close(reason)
