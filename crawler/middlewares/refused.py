"""Requests the crawler gives up on purpose, each with the reason a failure records."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest


class RequestRefused(IgnoreRequest):
    """A request dropped by a middleware of the project; ``reason`` is what a failure records.

    It reaches the request's errback (the spider's ``fetch_failed``), which records ``reason``
    as it is.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
