"""What one crawl is asked to do: its options, checked before anything starts (so a bad value
is one clear line, not a half-started crawl), the sources and start URLs they plan, and its
crawl plan. Loads no Scrapy: the command line checks a crawl's options before it pays for
loading the crawler (:mod:`scheduler.crawl.run`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crawler.extract import page_kind
from crawler.plan import SETTING as PLAN_SETTING
from crawler.plan import CrawlPlan, PlanError
from crawler.sources import SOURCES, allowed_hosts, is_http_url, known
from crawler.sweep import Sweep


class OptionError(ValueError):
    """A command-line or configuration value that cannot be used; the message says why."""


@dataclass
class CrawlOptions:
    sources: Sequence[str] = ()
    start_urls: Sequence[str] = ()
    base_url: str | None = None
    #: Fetch through this HTTP(S) proxy (None: the environment's, if any).
    proxy: str | None = None
    max_pages: int | None = None
    db_url: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    log_level: str = "WARNING"
    #: A crawl run recorded already (by the daemon): the crawl of its one source fills it in.
    run_id: int | None = None
    #: Redraw a one-line progress report on stderr (for a terminal).
    progress: bool = False
    #: What the run does (a crawl, refetch, backfill or recheck); ``--set KCNA_MONITOR_PLAN``
    #: overrides it.
    plan: CrawlPlan = field(default_factory=CrawlPlan)


def check_url(value: str, what: str) -> str:
    if not is_http_url(value):
        raise OptionError(f"{what}: not an http(s) URL: {value!r}")
    return value


def parse_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise OptionError(f"--set takes NAME=VALUE, got {text!r}")
    return name.strip(), value


def plan(options: CrawlOptions) -> dict[str, list[str]]:
    """Which sources to crawl and the start URLs of each (empty: its default listings)."""
    unknown = [name for name in options.sources if name not in SOURCES]
    if unknown:
        raise OptionError(f"unknown source {unknown[0]!r} (known: {known()})")
    if options.base_url:
        check_url(options.base_url, "--base-url")
    if options.proxy:
        check_url(options.proxy, "--proxy")
    if options.max_pages is not None and options.max_pages < 1:
        raise OptionError(f"--max-pages must be at least 1, got {options.max_pages}")
    if options.run_id is not None and len(set(options.sources)) != 1:
        raise OptionError("--run-id needs exactly one source")
    crawl_plan(options)
    chosen = list(dict.fromkeys(options.sources))
    starts: dict[str, list[str]] = {name: [] for name in chosen}
    hosts = allowed_hosts(chosen or SOURCES, options.base_url)
    for url in options.start_urls:
        check_url(url, "--start-url")
        if (urlsplit(url).hostname or "").lower() not in hosts:
            raise OptionError(
                f"--start-url {url}: not on an allowed host (allowed: {', '.join(sorted(hosts))};"
                " a mirror's host with --base-url)"
            )
        owner = source_of(url, chosen or list(SOURCES))
        if owner is None:
            raise OptionError(
                f"--start-url {url}: not a page of "
                f"{' or '.join(chosen or sorted(SOURCES))} (a listing or article URL is expected)"
            )
        starts.setdefault(owner, []).append(url)
    if not starts:
        starts = {name: [] for name in SOURCES}
    return starts


def source_of(url: str, candidates: Sequence[str]) -> str | None:
    """The source a start URL belongs to: by its host, else (a mirror's URL) by its path."""
    for name in candidates:
        if SOURCES[name].owns(url):
            return name
    parts = urlsplit(url)
    for name in candidates:
        public = SOURCES[name].public_root + parts.path + (f"?{parts.query}" if parts.query else "")
        kind = page_kind(public)
        if kind and kind.startswith(f"{name}-"):
            return name
    if len(candidates) == 1:
        return candidates[0]
    return None


def crawl_plan(options: CrawlOptions) -> CrawlPlan:
    """What the crawl does: ``options.plan``, unless ``--set KCNA_MONITOR_PLAN`` says."""
    try:
        told = CrawlPlan.from_settings(options.settings)  # a retired mode setting is an error
        Sweep.from_settings(options.settings)  # a sweep setting that is not a number
    except (PlanError, ValueError) as exc:
        raise OptionError(str(exc)) from None
    return told if PLAN_SETTING in options.settings else options.plan
