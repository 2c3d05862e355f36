"""Conditional GETs for listing and revisited article pages: ask "changed since?" and skip
parsing a 304.

Listing requests carry ``meta["kcna_listing"]``, requests re-checking a stored article
``meta["kcna_check"]``. Before one is sent, the validators of that URL's last fetch (ETag,
Last-Modified, kept in the database and handed over in the
:class:`~crawler.state.ArchiveState`) become ``If-None-Match`` / ``If-Modified-Since``; a
200 answer's validators are learnt for next time, for article pages too
(``meta["kcna_article"]``), so that their first revisit can be conditional. A
``304 Not Modified`` reaches the spider, which then has nothing to parse. The validators
are keyed by the public URL, so a mirror does not confuse them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler import signals
from crawler import stats as keys
from crawler.plan import CrawlPlan
from crawler.state import ArchiveState, Validators

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

LISTING = "kcna_listing"
ARTICLE = "kcna_article"
CHECK = "kcna_check"
PUBLIC_URL = "kcna_public_url"


class ConditionalRequestMiddleware:
    def __init__(self, stats: Any = None) -> None:
        self.state: ArchiveState | None = None
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        settings = crawler.settings
        if not CrawlPlan.from_settings(settings).conditional:
            raise NotConfigured  # a refetch or a backfill reads every page in full
        if not settings.getbool("KCNA_MONITOR_CONDITIONAL", True):
            raise NotConfigured
        middleware = cls(crawler.stats)
        crawler.signals.connect(middleware.archive_opened, signal=signals.archive_opened)
        return middleware

    def archive_opened(self, state: ArchiveState) -> None:
        self.state = state

    @staticmethod
    def _key(request: Request) -> str:
        return request.meta.get(PUBLIC_URL) or request.url

    def process_request(self, request: Request) -> None:
        conditional = request.meta.get(LISTING) or request.meta.get(CHECK)
        if self.state is None or not conditional or request.method != "GET":
            return
        if self.state.recovering and request.meta.get(LISTING):
            return  # a listing the last crawl may have left half-stored: read it in full
        validators = self.state.validators_for(self._key(request))
        if not validators:
            return
        if validators.etag:
            request.headers.setdefault(b"If-None-Match", validators.etag.encode("latin-1"))
        if validators.last_modified:
            request.headers.setdefault(
                b"If-Modified-Since", validators.last_modified.encode("latin-1")
            )

    def process_response(self, request: Request, response: Response) -> Response:
        meta = request.meta
        if self.state is None or request.method != "GET":
            return response
        if not (meta.get(LISTING) or meta.get(CHECK) or meta.get(ARTICLE)):
            return response
        if response.status == 304:
            if self.stats is not None:
                self.stats.inc_value(keys.NOT_MODIFIED)
            return response
        if response.status == 200:
            etag = response.headers.get(b"ETag")
            modified = response.headers.get(b"Last-Modified")
            self.state.learn(
                self._key(request),
                Validators(
                    etag=etag.decode("latin-1") if etag else None,
                    last_modified=modified.decode("latin-1") if modified else None,
                ),
            )
        return response
