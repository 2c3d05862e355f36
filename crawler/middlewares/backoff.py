"""Exponential backoff between retries of one request, honouring ``Retry-After``.

Scrapy's RetryMiddleware re-schedules a failed request at once. kcna.kp is slow and
drops connections under load, so a retried request waits first: ``base * 2 ** (n - 1)``
seconds before its n-th retry, capped at ``cap``. When the server answered 429 or 503 with
a ``Retry-After`` header (seconds or an HTTP date), the retry waits at least that long, up
to ``retry_after_max``. This middleware sits nearer the downloader than RetryMiddleware, so
it reads the answer first and leaves the wait in the request's meta, which the retry copies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler import stats as keys

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

RETRY_AFTER = "kcna_retry_after"
THROTTLED = (429, 503)


def backoff_delay(retry_times: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number ``retry_times`` (1 for the first retry)."""
    if retry_times <= 0 or base <= 0:
        return 0.0
    return min(cap, base * 2 ** (retry_times - 1))


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class RetryBackoffMiddleware:
    def __init__(
        self,
        base: float,
        cap: float,
        retry_after_max: float = 600.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        stats: Any = None,
    ) -> None:
        if base <= 0:
            raise NotConfigured  # silently off: a zero base means no backoff
        self.base = base
        self.cap = cap
        self.retry_after_max = retry_after_max
        self._sleep = sleep
        self._clock = clock
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoffMiddleware:
        settings = crawler.settings
        return cls(
            base=settings.getfloat("KCNA_MONITOR_RETRY_BACKOFF"),
            cap=settings.getfloat("KCNA_MONITOR_RETRY_BACKOFF_MAX"),
            retry_after_max=settings.getfloat("KCNA_MONITOR_RETRY_AFTER_MAX", 600.0),
            stats=crawler.stats,
        )

    def delay_for(self, request: Request) -> float:
        delay = backoff_delay(int(request.meta.get("retry_times", 0)), self.base, self.cap)
        asked = request.meta.get(RETRY_AFTER)
        if asked is not None and request.meta.get("retry_times"):
            delay = max(delay, min(float(asked), self.retry_after_max))
        return delay

    async def process_request(self, request: Request) -> None:
        delay = self.delay_for(request)
        if delay:
            if self.stats is not None:
                self.stats.inc_value(keys.BACKOFF_SECONDS, delay)
            await self._sleep(delay)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status in THROTTLED:
            header = response.headers.get(b"Retry-After")
            seconds = parse_retry_after(header.decode("latin-1"), self._clock()) if header else None
            if seconds is not None:
                request.meta[RETRY_AFTER] = seconds
        return response
