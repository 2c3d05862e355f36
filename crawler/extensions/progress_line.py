"""A one-line progress report for crawls run in a terminal.

Enabled by ``KCNA_MONITOR_PROGRESS`` (the command line sets it when stderr is a terminal).
Once a second it redraws a single line on stderr, e.g.
``kcna: 1m12s, pages 140, new 3, changed 0, unchanged 61, failed 1``, and clears it when the
crawl ends, so the summary printed afterwards stands alone. Never used in the daemon, whose
stderr is a log.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from crawler import stats as keys


class ProgressLine:
    def __init__(self, stats: Any, stream: TextIO, interval: float = 1.0) -> None:
        self.stats = stats
        self.stream = stream
        self.interval = interval
        self.task: Any = None
        self.name = "crawl"
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressLine:
        if not crawler.settings.getbool("KCNA_MONITOR_PROGRESS", False):
            raise NotConfigured
        report = cls(crawler.stats, sys.stderr)
        crawler.signals.connect(report.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(report.spider_closed, signal=signals.spider_closed)
        return report

    def line(self) -> str:
        def stat(key: str) -> int:
            return int(self.stats.get_value(key, 0) or 0)

        pages = stat(keys.RESPONSES)
        elapsed = int(time.monotonic() - self.started)
        minutes, seconds = divmod(elapsed, 60)
        took = f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
        return (
            f"{self.name}: {took}, pages {pages}, new {stat(keys.NEW)},"
            f" changed {stat(keys.CHANGED)}, unchanged {stat(keys.UNCHANGED)},"
            f" failed {stat(keys.FAILURES)}"
        )

    def draw(self) -> None:
        try:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def spider_opened(self, spider: Any) -> None:
        self.name = getattr(spider, "name", "crawl")
        self.started = time.monotonic()
        self.task = create_looping_call(self.draw)
        self.task.start(self.interval)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        try:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        except (OSError, ValueError):
            pass
