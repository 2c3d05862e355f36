"""Requests the crawler gives up on purpose, each with the reason a failure records."""

from __future__ import annotations

import logging

from scrapy.exceptions import IgnoreRequest


class RequestRefused(IgnoreRequest):
    """A request dropped by a middleware of the project; ``reason`` is what a failure records.

    It reaches the request's errback (the spider's ``fetch_failed``), which records ``reason``
    as it is, and logs it at ``log_level``.
    """

    #: How loudly the spider logs the failure of each request refused so.
    log_level = logging.WARNING

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HostUnreachable(RequestRefused):
    """A request for a host that cannot be reached in this run (see
    :mod:`crawler.middlewares.unreachable`); said once for the host, not for each request."""

    log_level = logging.INFO
