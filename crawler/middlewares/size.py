"""A cap on the size of a page, compressed or not, and a recorded failure for a page over it.

Scrapy's download handler stops reading a body past ``DOWNLOAD_MAXSIZE`` (at once when the
``Content-Length`` says so), and its HttpCompressionMiddleware stops decompressing there, so a
compression bomb costs no more memory than the cap. Either way the request ends in an error
that says little ("cancelled", "ignored"): here both become :class:`PageTooLarge`, whose reason
a failure records ("page larger than 8 MB: not stored").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, NotConfigured

from crawler import stats as keys
from crawler.middlewares.refused import RequestRefused

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class PageTooLarge(RequestRefused):
    """A page larger than the download cap; nothing of it is kept."""


def size_text(size: int) -> str:
    """``8388608`` -> ``"8 MB"``; ``1536`` -> ``"1.5 KB"`` (binary units, at most 3 digits)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def _cap(request: Request, default: int) -> int:
    return int(request.meta.get("download_maxsize", default))


class PageSizeMiddleware:
    """Turns a download stopped at the cap into :class:`PageTooLarge`, and refuses a body over
    the cap that a download handler let through.

    Sits nearer the downloader than RetryMiddleware, so that a page over the cap is not tried
    again.
    """

    def __init__(self, max_size: int, stats: Any = None) -> None:
        if max_size <= 0:
            raise NotConfigured  # no cap: Scrapy's handler has none either
        self.max_size = max_size
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageSizeMiddleware:
        return cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"), crawler.stats)

    def too_large(self, request: Request, what: str = "") -> PageTooLarge:
        if self.stats is not None:
            self.stats.inc_value(keys.PAGES_TOO_LARGE)
        cap = size_text(_cap(request, self.max_size))
        return PageTooLarge(f"page larger than {cap}{what}: not stored")

    def process_exception(self, request: Request, exception: Exception) -> None:
        # The HTTP handlers cancel a download only at the size cap (a timeout is
        # DownloadTimeoutError).
        if isinstance(exception, DownloadCancelledError) and _cap(request, self.max_size):
            raise self.too_large(request) from exception

    def process_response(self, request: Request, response: Response) -> Response:
        cap = _cap(request, self.max_size)
        if cap and len(response.body) > cap:
            raise self.too_large(request)
        return response


class CappedCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's HttpCompressionMiddleware, whose refusal of a body that decompresses past
    ``DOWNLOAD_MAXSIZE`` becomes :class:`PageTooLarge`."""

    def __init__(self, stats: Any = None, *, crawler: Crawler | None = None) -> None:
        super().__init__(stats, crawler=crawler)
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE") if crawler else 0

    def process_response(self, request: Request, response: Response) -> Response:
        try:
            return super().process_response(request, response)  # type: ignore[return-value]
        except IgnoreRequest as exc:  # raised only for a body decompressing past the cap
            if self.stats is not None:
                self.stats.inc_value(keys.PAGES_TOO_LARGE)
            cap = _cap(request, self.max_size)
            raise PageTooLarge(
                f"page larger than {size_text(cap)} once decompressed: not stored"
            ) from exc
