"""Run one crawl of one or more sources in this process: the code path of ``kcna-monitor crawl``.

Each source's run is recorded in ``crawl_runs`` by the crawler's stats collector and
summarised from its stats (:mod:`scheduler.crawl.summary`). The daemon runs the very same
command in a child process (:mod:`scheduler.daemon.child`).
"""

from __future__ import annotations

import os
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.plan import SETTING as PLAN_SETTING
from crawler.plan import CrawlPlan, PlanError
from scheduler.crawl.options import CrawlOptions, OptionError, crawl_plan, plan
from scheduler.crawl.stopping import StopOnSignal
from scheduler.crawl.summary import SourceSummary, summarise
from scheduler.logs import setup_logging


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


PROGRESS_EXTENSION = "crawler.extensions.progress_line.ProgressLine"


def build_settings(options: CrawlOptions) -> Settings:
    # The project's settings module by name, not found through scrapy.cfg: the command must
    # work from any folder (a service's working directory is rarely the source tree).
    settings = Settings()
    settings.setmodule(os.environ.get("SCRAPY_SETTINGS_MODULE") or "crawler.settings", "project")
    if options.db_url:
        settings.set("KCNA_MONITOR_DB", options.db_url, priority="cmdline")
    settings.set("LOG_LEVEL", options.log_level, priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # see scheduler.logs
    if options.proxy:
        settings.set("KCNA_MONITOR_PROXY", options.proxy, priority="cmdline")
    if options.run_id is not None:
        settings.set("KCNA_MONITOR_RUN_ID", options.run_id, priority="cmdline")
    if options.progress:
        settings.set("KCNA_MONITOR_PROGRESS", True, priority="cmdline")
        extensions = settings.getdict("EXTENSIONS")
        extensions.setdefault(PROGRESS_EXTENSION, 900)
        settings.set("EXTENSIONS", extensions, priority="cmdline")
    for name, value in options.settings.items():
        settings.set(name, value, priority="cmdline")
    # Parsed once, here: the crawler's components take the plan as it is.
    settings.set(PLAN_SETTING, crawl_plan(options), priority="cmdline")
    try:
        CrawlPlan.from_settings(settings)  # no retired setting asks for another mode
    except PlanError as exc:
        raise OptionError(str(exc)) from None
    return settings
