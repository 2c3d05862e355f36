"""A page whose answer ended before its body did, recorded with what was lost.

Twisted ends such an answer with a bare ``_DataLoss`` and Scrapy turns it into a
``ResponseDataLossError`` with no message (``DOWNLOAD_FAIL_ON_DATALOSS``, on by default; a page
so cut is tried again by RetryMiddleware). Neither says how much came: here the bytes of each
download are counted (Scrapy's ``headers_received`` and ``bytes_received`` signals), and a
download that still ends in data loss once the retries are spent becomes :class:`PageTruncated`,
whose reason a failure records ("response truncated after 4,700 of 5,922 bytes").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import ResponseDataLossError

from crawler.middlewares.refused import RequestRefused

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

#: Request meta: the body length the answer's headers announced (None: not said) ...
EXPECTED = "kcna_expected_bytes"
#: ... and the bytes of its body received so far.
RECEIVED = "kcna_received_bytes"


class PageTruncated(RequestRefused):
    """An answer cut short: its connection closed before the whole body came."""


def truncated_reason(received: int | None, expected: int | None) -> str:
    """``(4700, 5922)`` -> ``"response truncated after 4,700 of 5,922 bytes"``."""
    if received is None:
        return "response truncated: the connection closed before the whole body came"
    if expected is None:
        return f"response truncated after {received:,} bytes (its length was not announced)"
    return f"response truncated after {received:,} of {expected:,} bytes"


class TruncationMiddleware:
    """Counts the bytes of each download, and turns a data loss into :class:`PageTruncated`.

    Sits farther from the downloader than RetryMiddleware (550), so that it sees the data loss
    only once the retries are spent.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TruncationMiddleware:
        middleware = cls()
        crawler.signals.connect(middleware.headers_received, signal=signals.headers_received)
        crawler.signals.connect(middleware.bytes_received, signal=signals.bytes_received)
        return middleware

    def headers_received(self, body_length: Any, request: Request, **_: Any) -> None:
        announced = isinstance(body_length, int) and body_length >= 0
        request.meta[EXPECTED] = body_length if announced else None
        request.meta[RECEIVED] = 0  # a retry counts afresh

    def bytes_received(self, data: bytes, request: Request, **_: Any) -> None:
        request.meta[RECEIVED] = request.meta.get(RECEIVED, 0) + len(data)

    def process_exception(self, request: Request, exception: Exception) -> None:
        if isinstance(exception, ResponseDataLossError):
            reason = truncated_reason(request.meta.get(RECEIVED), request.meta.get(EXPECTED))
            raise PageTruncated(reason) from exception
