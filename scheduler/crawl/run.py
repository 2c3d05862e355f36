"""Run one crawl of one or more sources in this process: the code path of ``kcna-monitor crawl``.

Each source's run is recorded in ``crawl_runs`` by the crawler's stats collector and
summarised here from its stats. The daemon runs the very same command in a child process
(:mod:`scheduler.daemon.child`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scrapy.crawler import CrawlerProcess

from crawler import stats as keys
from scheduler.crawl.options import CrawlOptions, build_settings, plan
from scheduler.crawl.stopping import StopOnSignal
from scheduler.logs import setup_logging


@dataclass
class SourceSummary:
    source: str
    status: str
    pages: int
    new: int
    changed: int
    unchanged: int
    failures: int
    run_id: int | None
    error: str | None = None  # why the run failed or was interrupted, when it says

    def line(self) -> str:
        return (
            f"{self.source:<10} {self.status:<11} pages {self.pages:>5}  new {self.new:>5}"
            f"  changed {self.changed:>4}  unchanged {self.unchanged:>5}  failed {self.failures:>4}"
        )


def run_crawl(options: CrawlOptions) -> list[SourceSummary]:
    """Crawl the planned sources once, in this process, and summarise each source's run."""
    starts = plan(options)
    settings = build_settings(options)
    process = CrawlerProcess(settings)
    setup_logging(options.log_level)
    crawlers = []
    for name, urls in starts.items():
        crawler = process.create_crawler(name)  # the spider of that name
        kwargs: dict[str, Any] = {}
        if urls:
            kwargs["start_url"] = urls
        if options.base_url:
            kwargs["base_url"] = options.base_url
        if options.max_pages is not None:
            kwargs["max_pages"] = options.max_pages
        process.crawl(crawler, **kwargs)
        crawlers.append((name, crawler))
    StopOnSignal(process, [crawler for _, crawler in crawlers]).install()
    process.start(install_signal_handlers=False)
    return [summarise(name, crawler.stats.get_stats()) for name, crawler in crawlers]


def summarise(source: str, stats: Mapping[str, Any]) -> SourceSummary:
    def count(key: str) -> int:
        return int(stats.get(key, 0))

    pages = count(keys.RESPONSES)
    status = stats.get(keys.RUN_STATUS)
    if status is None:
        status = "failed" if stats.get("finish_reason") != "finished" or not pages else "ok"
    return SourceSummary(
        source=source,
        status=str(status),
        pages=pages,
        new=count(keys.NEW),
        changed=count(keys.CHANGED),
        unchanged=count(keys.UNCHANGED),
        failures=count(keys.FAILURES),
        run_id=stats.get(keys.RUN_ID),
        error=stats.get(keys.RUN_ERROR),
    )
