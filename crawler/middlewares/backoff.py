"""Exponential backoff between retries of one request.

Scrapy's RetryMiddleware re-schedules a failed request at once. kcna.kp is slow and
drops connections under load, so a retried request waits first: ``base * 2 ** (n - 1)``
seconds before its n-th retry, capped at ``cap``, with a ``Retry-After`` answer (kept by
the retry middleware in ``request.meta``) honoured when it asks for longer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler


def backoff_delay(retry_times: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number ``retry_times`` (1 for the first retry)."""
    if retry_times <= 0 or base <= 0:
        return 0.0
    return min(cap, base * 2 ** (retry_times - 1))


class RetryBackoffMiddleware:
    def __init__(
        self,
        base: float,
        cap: float,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if base <= 0:
            raise NotConfigured  # silently off: a zero base means no backoff
        self.base = base
        self.cap = cap
        self._sleep = sleep

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoffMiddleware:
        settings = crawler.settings
        return cls(
            base=settings.getfloat("KCNA_MONITOR_RETRY_BACKOFF"),
            cap=settings.getfloat("KCNA_MONITOR_RETRY_BACKOFF_MAX"),
        )

    async def process_request(self, request: Request) -> None:
        delay = backoff_delay(int(request.meta.get("retry_times", 0)), self.base, self.cap)
        if delay:
            await self._sleep(delay)
