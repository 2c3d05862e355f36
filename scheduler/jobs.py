"""Run one crawl of one or more sources: the code path of ``kcna-monitor crawl``.

Options are checked before anything starts, so a bad value is one clear line, not a
half-started crawl. The crawl itself runs Scrapy in this process; each source's run is
recorded in ``crawl_runs`` by the storing pipeline and summarised here from its stats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawler.extract import page_kind
from crawler.spiders.base import SourceSpider
from crawler.spiders.kcna import KcnaSpider
from crawler.spiders.kcnawatch import KcnaWatchSpider
from scheduler.logs import setup_logging

SPIDERS: dict[str, type[SourceSpider]] = {
    KcnaSpider.name: KcnaSpider,
    KcnaWatchSpider.name: KcnaWatchSpider,
}


class OptionError(ValueError):
    """A command-line or configuration value that cannot be used; the message says why."""


@dataclass
class CrawlOptions:
    sources: Sequence[str] = ()
    start_urls: Sequence[str] = ()
    base_url: str | None = None
    max_pages: int | None = None
    db_url: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    log_level: str = "WARNING"


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

    def line(self) -> str:
        return (
            f"{self.source:<10} {self.status:<11} pages {self.pages:>5}  new {self.new:>5}"
            f"  changed {self.changed:>4}  unchanged {self.unchanged:>5}  failed {self.failures:>4}"
        )


def check_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OptionError(f"{what}: not an http(s) URL: {value!r}")
    return value


def parse_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise OptionError(f"--set takes NAME=VALUE, got {text!r}")
    return name.strip(), value


def plan(options: CrawlOptions) -> dict[str, list[str]]:
    """Which sources to crawl and the start URLs of each (empty: its default listings)."""
    unknown = [name for name in options.sources if name not in SPIDERS]
    if unknown:
        raise OptionError(f"unknown source {unknown[0]!r} (known: {', '.join(sorted(SPIDERS))})")
    if options.base_url:
        check_url(options.base_url, "--base-url")
    if options.max_pages is not None and options.max_pages < 1:
        raise OptionError(f"--max-pages must be at least 1, got {options.max_pages}")
    chosen = list(dict.fromkeys(options.sources))
    starts: dict[str, list[str]] = {name: [] for name in chosen}
    for url in options.start_urls:
        check_url(url, "--start-url")
        owner = source_of(url, chosen or list(SPIDERS), options.base_url)
        if owner is None:
            raise OptionError(
                f"--start-url {url}: not a page of "
                f"{' or '.join(chosen or sorted(SPIDERS))} (a listing or article URL is expected)"
            )
        starts.setdefault(owner, []).append(url)
    if not starts:
        starts = {name: [] for name in SPIDERS}
    return starts


def source_of(url: str, candidates: Sequence[str], base_url: str | None) -> str | None:
    """The source a start URL belongs to: by its host, else (a mirror's URL) by its path."""
    host = (urlsplit(url).hostname or "").lower()
    for name in candidates:
        if host in SPIDERS[name].public_hosts:
            return name
    for name in candidates:
        spider = SPIDERS[name]
        path = urlsplit(url)
        public = spider.public_root + path.path + (f"?{path.query}" if path.query else "")
        kind = page_kind(public)
        if kind and kind.startswith(f"{name}-"):
            return name
    if len(candidates) == 1:
        return candidates[0]
    return None


def build_settings(options: CrawlOptions) -> Settings:
    settings = get_project_settings()
    if options.db_url:
        settings.set("KCNA_MONITOR_DB", options.db_url, priority="cmdline")
    settings.set("LOG_LEVEL", options.log_level, priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # see scheduler.logs
    for name, value in options.settings.items():
        settings.set(name, value, priority="cmdline")
    return settings


def run_crawl(options: CrawlOptions) -> list[SourceSummary]:
    """Crawl the planned sources once, in this process, and summarise each source's run."""
    starts = plan(options)
    settings = build_settings(options)
    process = CrawlerProcess(settings)
    setup_logging(options.log_level)
    crawlers = []
    for name, urls in starts.items():
        crawler = process.create_crawler(SPIDERS[name])
        kwargs: dict[str, Any] = {}
        if urls:
            kwargs["start_url"] = urls
        if options.base_url:
            kwargs["base_url"] = options.base_url
        if options.max_pages is not None:
            kwargs["max_pages"] = options.max_pages
        process.crawl(crawler, **kwargs)
        crawlers.append((name, crawler))
    process.start()
    return [summarise(name, crawler.stats.get_stats()) for name, crawler in crawlers]


def summarise(source: str, stats: Mapping[str, Any]) -> SourceSummary:
    def count(key: str) -> int:
        return int(stats.get(f"kcna_monitor/{key}", 0))

    pages = int(stats.get("downloader/response_count", 0))
    status = stats.get("kcna_monitor/run_status")
    if status is None:
        status = "failed" if stats.get("finish_reason") != "finished" or not pages else "ok"
    return SourceSummary(
        source=source,
        status=str(status),
        pages=pages,
        new=count("new"),
        changed=count("changed"),
        unchanged=count("unchanged"),
        failures=count("failures"),
        run_id=stats.get("kcna_monitor/run_id"),
    )
