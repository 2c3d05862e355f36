"""The daemon's sections of the configuration: ``[daemon]``, ``[cluster]`` (several daemons
on one PostgreSQL archive) and ``[sources.NAME]`` (how each source is crawled: where from, how
often, how politely, for how long)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BeforeValidator, Field, model_validator

from crawler.sources import SOURCES, allowed_hosts, known
from crawler.sweep import DEFAULT_BUDGET, DEFAULT_EVERY, Sweep
from scheduler.configtypes import (
    Flag,
    HttpUrl,
    Section,
    duration,
    format_duration,
    http_url,
    listed,
    mistake,
    non_empty,
    show,
    whole,
)

DEFAULT_TIMEOUT = timedelta(minutes=10)
DEFAULT_DELAY = timedelta(seconds=2)
DEFAULT_CONCURRENCY = 1
DEFAULT_STOP_GRACE = timedelta(seconds=30)
DEFAULT_PAUSE_AFTER = 3
DEFAULT_PAUSE_MAX = timedelta(hours=6)
DEFAULT_TIMEZONE = "UTC"
#: The default jitter is this share of the interval, at most :data:`MAX_DEFAULT_JITTER`.
DEFAULT_JITTER_SHARE = 0.1
MAX_DEFAULT_JITTER = timedelta(minutes=1)
_SETTING_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")


def cron_trigger(expression: str, timezone: str = DEFAULT_TIMEZONE) -> CronTrigger:
    """The trigger of a five-field crontab expression; ValueError says what is wrong."""
    return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))


def _timezone(value: Any) -> str:
    zone = non_empty(value)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise mistake(f'unknown time zone "{zone}" (use e.g. UTC, Europe/Berlin)') from None
    return zone


def _cron(value: Any) -> str | None:
    if value is None:
        return None
    expression = non_empty(value)
    try:
        cron_trigger(expression)
    except ValueError as error:
        raise mistake(
            f'bad cron expression "{expression}" ({error}; five fields:'
            " minute hour day month weekday, e.g. */15 * * * *)"
        ) from None
    return expression


def _base_url(value: Any) -> str | None:
    return None if value is None else http_url(value).rstrip("/")


def _proxy(value: Any) -> str | None:
    """An http(s) proxy URL, without a password (secrets stay out of the file)."""
    if value is None:
        return None
    url = http_url(value)
    if urlsplit(url).password is not None:
        raise mistake(
            "a password does not belong in the file: give the proxy in HTTP_PROXY and"
            " HTTPS_PROXY in the daemon's environment instead"
        )
    return url


def _scrapy_settings(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise mistake(f"expected a table of Scrapy settings, got {show(value)}")
    for key in value:
        if not _SETTING_NAME_RE.fullmatch(key):
            raise mistake(
                "not a Scrapy setting name (settings are UPPER_CASE, e.g. DOWNLOAD_TIMEOUT)",
                at=key,
            )
    return dict(value)


def _known_source(value: Any) -> str:
    if value not in SOURCES:
        raise mistake(f"unknown source (known: {known()})")
    return str(value)


class DaemonConfig(Section):
    """``[daemon]``."""

    timezone: Annotated[str, BeforeValidator(_timezone)] = DEFAULT_TIMEZONE
    #: How long a running crawl may go on after a stop is asked for.
    stop_grace: Annotated[timedelta, duration()] = DEFAULT_STOP_GRACE
    #: How late a scheduled run may start (None: up to one interval, so a missed run
    #: after a suspend or a busy spell happens once rather than not at all).
    misfire_grace: Annotated[timedelta | None, duration(positive=True)] = None


class ClusterConfig(Section):
    """``[cluster]``: how daemons sharing one PostgreSQL archive watch each other."""

    #: How long a node's claim on a run lasts without renewal: a node that died, froze or
    #: lost the database has its run taken over by another node this long after its last
    #: renewal (nodes renew and look for such runs every third of it).
    lease: Annotated[timedelta, duration(positive=True)] = timedelta(seconds=30)

    @model_validator(mode="after")
    def _long_enough(self) -> ClusterConfig:
        if self.lease < timedelta(seconds=3):
            raise mistake("must be at least 3s (nodes renew every third of it)", at="lease")
        return self

    @property
    def check_every(self) -> float:
        """Seconds between two check-ins, renewals and looks for runs to take over."""
        return self.lease.total_seconds() / 3


class SourceConfig(Section):
    """``[sources.NAME]``: how one source is crawled: where from, how often, how politely,
    for how long."""

    internal: ClassVar[frozenset[str]] = frozenset({"name"})

    name: Annotated[str, BeforeValidator(_known_source)]
    enabled: Flag = True
    #: None: the source's public site.
    base_url: Annotated[str | None, BeforeValidator(_base_url)] = None
    #: Fetch through this HTTP(S) proxy. None: the environment's (HTTP_PROXY, HTTPS_PROXY).
    proxy: Annotated[str | None, BeforeValidator(_proxy)] = None
    #: Empty: the source's own listing pages.
    start_urls: Annotated[tuple[HttpUrl, ...], listed("a list of URLs")] = ()
    #: Neither ``every`` nor ``cron`` given: the source's default interval.
    every: Annotated[timedelta | None, duration(minimum=1.0)] = None
    cron: Annotated[str | None, BeforeValidator(_cron)] = None
    #: None: a share of the interval (see :attr:`effective_jitter`).
    jitter: Annotated[timedelta | None, duration()] = None
    timeout: Annotated[timedelta, duration(minimum=1.0)] = DEFAULT_TIMEOUT
    delay: Annotated[timedelta, duration()] = DEFAULT_DELAY
    concurrency: Annotated[int, whole()] = DEFAULT_CONCURRENCY
    max_pages: Annotated[int | None, whole()] = None
    #: After this many failed runs in a row the source pauses, for one interval at first,
    #: doubling with each further failure up to ``pause_max`` (0: never pause).
    pause_after: Annotated[int, whole(minimum=0, expected="a whole number (0: never pause)")] = (
        DEFAULT_PAUSE_AFTER
    )
    pause_max: Annotated[timedelta, duration(minimum=1.0)] = DEFAULT_PAUSE_MAX
    #: Archive sweeps: every stored article is checked again at least once per
    #: ``sweep_every`` (false: no sweeps), at most ``sweep_budget`` checks a run.
    sweep_every: Annotated[timedelta | None, duration(minimum=1.0, false_is_none=True)] = (
        DEFAULT_EVERY
    )
    sweep_budget: Annotated[int, whole(minimum=0, expected="a whole number (0: no sweeps)")] = (
        DEFAULT_BUDGET
    )
    settings: Annotated[dict[str, Any], BeforeValidator(_scrapy_settings)] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.every is not None and self.cron is not None:
            raise mistake("give either every or cron, not both")
        hosts = allowed_hosts([self.name], self.base_url)
        for index, url in enumerate(self.start_urls):
            if (urlsplit(url).hostname or "").lower() not in hosts:
                raise mistake(
                    f'"{url}" is not on an allowed host (allowed: {", ".join(sorted(hosts))};'
                    " a mirror's host with base_url)",
                    at=("start_urls", index),
                )
        source = self
        if self.every is None and self.cron is None:
            source = self.model_copy(update={"every": SOURCES[self.name].every})
        every, jitter = source.every, source.jitter
        if every is not None and jitter is not None and jitter >= every:
            raise mistake(
                f"{format_duration(jitter)} must be shorter than every ({format_duration(every)})",
                at="jitter",
            )
        return source

    @property
    def effective_jitter(self) -> timedelta:
        """The configured jitter, else 10% of the interval (at most a minute; none for cron)."""
        if self.jitter is not None:
            return self.jitter
        if self.every is None:
            return timedelta(0)
        return min(self.every * DEFAULT_JITTER_SHARE, MAX_DEFAULT_JITTER)

    @property
    def sweep_period(self) -> timedelta | None:
        """How often every article is checked again; None when sweeps are off."""
        return self.sweep_every if self.sweep_budget > 0 else None

    def sweep(self, interval: timedelta) -> Sweep | None:
        """The source's archive sweep (None when off), for runs ``interval`` apart."""
        if self.sweep_period is None:
            return None
        return Sweep(self.sweep_period, self.sweep_budget, interval)

    def describe_schedule(self) -> str:
        if self.cron is not None:
            return f'cron "{self.cron}"'
        assert self.every is not None
        return f"every {format_duration(self.every)}"

    def schedule_key(self) -> tuple[Any, ...]:
        """What decides when the source runs (a reload that changes it reschedules)."""
        return (self.every, self.cron, self.jitter)
