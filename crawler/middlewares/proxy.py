"""Fetch through the proxy the crawl names (``--proxy``, a source's ``proxy``).

Scrapy's HttpProxyMiddleware sends a request through the proxy in its ``proxy`` meta key,
else through the one the environment names (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``).
This middleware, before it, puts ``KCNA_MONITOR_PROXY`` in every request's meta that does not
name one already, so the crawl's own proxy wins over the environment's. An http request
goes to the proxy whole (``GET http://www.kcna.kp/... HTTP/1.1``), an https one through a
``CONNECT`` tunnel. Unset (the default), the middleware is off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler


class ProxyMiddleware:
    def __init__(self, proxy: str) -> None:
        if not proxy:
            raise NotConfigured
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyMiddleware:
        return cls(crawler.settings.get("KCNA_MONITOR_PROXY") or "")

    def process_request(self, request: Request) -> None:
        request.meta.setdefault("proxy", self.proxy)
