"""What every source spider shares: start pages, fetching through a mirror, following listings.

A spider reads listing pages and follows their entries to article pages; it never follows a
link off its source's own host. It also fetches again the stored articles the archive says are
due for a revisit (young ones, once a day; or those a recheck asks for), conditionally: a 404
or 410 there means the article is gone. Each listing page it reads is reported as well, so
that an article vanishing from it can be noticed. Pages may be fetched from a mirror or local copy
(``base_url``) while every URL it reports still names the public host, so an archive filled
from a copy is the same as one filled from the real site. The rules of what to fetch are in
:mod:`crawler.spiders.listings`, the URL mapping in :mod:`crawler.spiders.urls`; the spider
makes the requests and reads the answers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, ClassVar

import scrapy
from scrapy.exceptions import UsageError
from scrapy.http import FormRequest, Response, TextResponse
from twisted.python.failure import Failure

from crawler import signals
from crawler import stats as keys
from crawler.extract import PARSER_VERSION, extract_page, page_kind
from crawler.extract.records import (
    ArticleRecord,
    ExtractionError,
    Listing,
    ListingEntry,
    NotAnArticle,
)
from crawler.items import (
    ArticleItem,
    CategoryItem,
    CheckedItem,
    FailureItem,
    GoneItem,
    ListingItem,
    ProgressItem,
)
from crawler.middlewares.conditional import ARTICLE, CHECK, LISTING, PUBLIC_URL
from crawler.plan import CrawlPlan
from crawler.sources import Source
from crawler.spiders.listings import ListingWalk, listing_item
from crawler.spiders.options import max_pages_option, with_contact
from crawler.spiders.reasons import dataloss_reason, failure_reason, soft_deletion
from crawler.spiders.urls import BadUrl, SiteUrls, check_http_url, split_option
from crawler.state import ArchiveState

#: Request meta: (start listing URL, page number) of a listing page ...
POSITION = "kcna_position"
#: ... and of the listing page an article request came from.
ORIGIN = "kcna_origin"
#: Request meta: the page number a listing request asks for, when the site's paging says.
ASKED_PAGE = "kcna_asked_page"
#: Request meta: set on the requests in flight when a crawl is stopped (they are abandoned).
ABANDONED = "kcna_abandoned"

PYONGYANG = timezone(timedelta(hours=9))

#: Answers that say an article page is gone for good.
GONE_STATUSES = frozenset({404, 410})


class SourceSpider(scrapy.Spider):
    """Base class: a subclass names its :class:`~crawler.sources.Source` in ``source``, and
    the attributes below (what Scrapy and the middlewares read) are set from it."""

    #: The source's record in :mod:`crawler.sources`.
    source: ClassVar[Source]
    #: Scheme and host of the public site, e.g. ``http://www.kcna.kp``.
    public_root: ClassVar[str]
    #: Hosts that count as the source's own (the public host and its aliases).
    public_hosts: ClassVar[frozenset[str]]
    #: Paths of the listing pages a crawl starts from by default.
    default_start_paths: ClassVar[tuple[str, ...]]
    #: The source label stored with runs (articles carry the publisher feed).
    source_label: ClassVar[str]
    #: Whether a listing's name (e.g. "Top News") is a category of the articles it lists.
    listing_is_category: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        source = cls.__dict__.get("source")
        if source is not None:
            cls.name = source.name
            cls.source_label = source.label
            cls.public_root = source.public_root
            cls.public_hosts = source.hosts
            cls.default_start_paths = source.start_paths
            cls.listing_is_category = source.listing_is_category

    def __init__(
        self,
        *args: Any,
        base_url: str | None = None,
        start_url: str | list[str] | None = None,
        max_pages: int | str | None = None,
        today: date | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        try:
            mirror = check_http_url(base_url, "base_url") if base_url else None
            #: The public site and the mirror pages are fetched from (when ``base_url`` is set).
            self.site = SiteUrls(self.public_root, self.public_hosts, mirror)
            self.start_page_urls = [
                self.site.to_public(check_http_url(url, "start_url"))
                for url in split_option(start_url)
            ]
        except BadUrl as exc:
            raise UsageError(str(exc)) from None
        self._max_pages_arg = max_pages
        self._today = date.fromisoformat(today) if isinstance(today, str) else today
        self.recheck = False  # fetch only the stored articles the archive names, no listings
        self.report_listings = True  # report what listing pages show (vanished articles)
        #: The walk over the listings (set up from the crawl's settings in ``from_crawler``).
        self.walk: ListingWalk

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        max_pages = max_pages_option(spider._max_pages_arg, settings)
        plan = CrawlPlan.from_settings(settings)
        # Skip stored articles, stop paging at a page of known ones (when the archive is read);
        # count in the crawl's stats (which exist once it starts).
        spider.walk = ListingWalk.for_plan(
            plan, spider.site, spider._count, spider.logger, max_pages
        )
        crawler.signals.connect(spider.archive_opened, signal=signals.archive_opened)
        spider.recheck = not plan.reads_listings
        spider.report_listings = settings.getbool("KCNA_MONITOR_VANISHED", True)
        contact = settings.get("KCNA_MONITOR_CONTACT")
        if contact:
            spider.user_agent = with_contact(settings.get("USER_AGENT", ""), contact)
        return spider

    def _count(self, key: str) -> None:
        self.crawler.stats.inc_value(key)

    def today(self) -> date:
        """Today's date in Pyongyang, for date inference (fixed by the ``today`` argument)."""
        return self._today or datetime.now(PYONGYANG).date()

    # -- crawling -----------------------------------------------------------------------

    def archive_opened(self, state: ArchiveState) -> None:
        self.walk.opened(state)

    async def start(self) -> AsyncIterator[Any]:
        if not self.recheck:
            urls = self.start_page_urls or [
                self.public_root + path for path in self.default_start_paths
            ]
            for url in urls:
                request = self.page_request(url, depth=1, hint=None)
                request.meta[POSITION] = (url, 1)
                self.walk.listing_pages.add((url, 1))
                yield request
            # Article pages that failed in recent runs and are still missing: try them again.
            for url, hint, category in self.walk.retries():
                yield self.page_request(url, depth=0, hint=hint, category=category)
        # Stored articles due for a revisit, named by a recheck or swept: has anything changed?
        for url, hint in self.walk.revisits():
            yield self.check_request(url, hint=hint)

    def _request(
        self,
        public_url: str,
        *,
        depth: int,
        hint: ListingEntry | None,
        category: str | None,
        formdata: tuple[tuple[str, str], ...] | None = None,
    ) -> scrapy.Request:
        kind = page_kind(public_url) or ""
        meta: dict[str, Any] = {PUBLIC_URL: public_url}
        priority = 1  # articles before further listing pages: a page is done before the next
        if kind.endswith("-listing"):
            meta[LISTING] = True
            meta["handle_httpstatus_list"] = [304]
            priority = 0
        elif kind.endswith("-article"):
            meta[ARTICLE] = True
        kwargs = {"public_url": public_url, "depth": depth, "hint": hint, "category": category}
        form: dict[str, Any] = {}
        if formdata is not None:  # the same list URL, another page of it: not a duplicate
            form = {"formdata": list(formdata), "dont_filter": True}
        return (FormRequest if formdata is not None else scrapy.Request)(
            self.site.to_fetch(public_url),
            callback=self.parse_page,
            errback=self.fetch_failed,
            cb_kwargs=kwargs,
            meta=meta,
            priority=priority,
            **form,
        )

    def page_request(
        self, public_url: str, *, depth: int, hint: ListingEntry | None, category: str | None = None
    ) -> scrapy.Request:
        if category is None and depth >= 1:  # a default listing that stands for a category
            category = self.source.categories.get(public_url.removeprefix(self.public_root))
        return self._request(public_url, depth=depth, hint=hint, category=category)

    def check_request(
        self, public_url: str, *, hint: ListingEntry | None, category: str | None = None
    ) -> scrapy.Request:
        """A request fetching a stored article's page again, conditionally (304: unchanged);
        a 404 or 410 answer marks the article gone."""
        request = self.page_request(public_url, depth=0, hint=hint, category=category)
        if request.meta.get(ARTICLE):
            request.meta[CHECK] = True
            request.meta["handle_httpstatus_list"] = [304]
        return request

    def parse_page(
        self,
        response: Response,
        public_url: str,
        depth: int,
        hint: ListingEntry | None,
        category: str | None,
    ) -> Iterator[Any]:
        yield from self._parse(response, public_url, depth, hint, category)
        if response.meta.get(CHECK):
            yield CheckedItem(public_url, datetime.now(UTC), still_there=response.status == 304)
        yield from self._answered(response.meta)

    def _answered(self, meta: dict[str, Any]) -> Iterator[ProgressItem]:
        """An article request that a listing page gave rise to is answered."""
        item = self.walk.answered(meta.get(ORIGIN))
        if item is not None:
            yield item

    def _parse(
        self,
        response: Response,
        public_url: str,
        depth: int,
        hint: ListingEntry | None,
        category: str | None,
    ) -> Iterator[Any]:
        stats = self.crawler.stats
        if response.status == 304:
            self.logger.debug("not modified since the last crawl: %s", public_url)
            if self.report_listings and response.meta.get(LISTING):
                yield ListingItem(listing=public_url, urls=None, at=datetime.now(UTC))
            return
        if response.meta.get(CHECK) and response.status == 200:
            softly = soft_deletion(response, public_url, self.site.to_public(response.url))
            if softly is not None:  # a stored article's URL shows the home page, a list, ...
                yield self.gone(public_url, softly)
                return
        truncated = dataloss_reason(response)
        if truncated is not None:  # cut short, and let through (DOWNLOAD_FAIL_ON_DATALOSS off)
            yield self.failure(public_url, truncated, hint, category)
            return
        if not isinstance(response, TextResponse):
            kind = (response.headers.get("Content-Type") or b"unknown type").decode("latin-1")
            yield self.failure(public_url, f"not an HTML page ({kind})", hint, category)
            return
        try:
            page = extract_page(public_url, response.text, hint=hint, today=self.today())
        except NotAnArticle as exc:
            stats.inc_value(keys.NOT_AN_ARTICLE)
            self.logger.info("skipped %s: %s", public_url, exc.reason)
            return
        except ExtractionError as exc:
            stats.inc_value(keys.PARSE_FAILURES)
            self.logger.warning("could not parse %s: %s", public_url, exc.reason)
            yield self.failure(public_url, exc.reason, hint, category)
            return
        if isinstance(page, Listing):
            yield from self.listing(page, response, public_url, depth, category)
        else:
            yield from self.article(page, response, category, depth)

    def listing(
        self, page: Listing, response: Response, public_url: str, depth: int, category: str | None
    ) -> Iterator[Any]:
        """A listing page read: what it shows (when reported), then what it leads to."""
        position = response.meta.get(POSITION)
        if position is not None and self.walk.ended(page, position, response.meta.get(ASKED_PAGE)):
            return
        if self.listing_is_category:
            category = page.category or category
        if self.report_listings and page.entries:
            posted = response.request is not None and response.request.method != "GET"
            yield listing_item(page, public_url, position, posted=posted)
        if category and page.entries:  # each article listed is in it, fetched or not
            yield CategoryItem(category, tuple(dict.fromkeys(e.url for e in page.entries)))
        yield from self.follow_listing(page, depth, category, position or (public_url, depth))

    def follow_listing(
        self,
        listing: Listing,
        depth: int,
        category: str | None,
        position: tuple[str, int] | None = None,
    ) -> Iterator[Any]:
        """Request the listing's new entries, then its next page when paging goes on.

        ``position`` is (the start listing's URL, this page's number): backfills count the
        pages they have finished by it, and resume past them.
        """
        requests = list(self.follow_entries(listing.entries, category))
        for request in requests:
            request.meta[ORIGIN] = position
        yield from requests
        progress = self.walk.listed(listing, position, len(requests))
        if progress is not None:
            yield progress
        for page in self.walk.next_pages(listing, depth, position, len(requests)):
            post = page.request.formdata if page.request.method == "POST" else None
            request = self._request(
                page.request.url, depth=page.depth, hint=None, category=category, formdata=post
            )
            request.meta[ASKED_PAGE] = page.request.page
            if page.position is not None:
                request.meta[POSITION] = page.position
            yield request

    def follow_entries(
        self, entries: tuple[ListingEntry, ...], category: str | None
    ) -> Iterator[scrapy.Request]:
        """Requests for the entries' article pages, but for those stored already."""
        for entry, check in self.walk.new_entries(entries):
            if check:  # a stored article marked gone or retitled: is it back? changed?
                yield self.check_request(entry.url, hint=entry, category=category)
            else:
                yield self.page_request(entry.url, depth=0, hint=entry, category=category)

    def article(
        self, record: ArticleRecord, response: Response, category: str | None, depth: int
    ) -> Iterator[Any]:
        if category and category not in record.categories:
            record = replace(record, categories=(*record.categories, category))
        self.crawler.stats.inc_value(keys.ARTICLES_PARSED)
        yield ArticleItem(
            record=record,
            seen_at=datetime.now(UTC),
            body=response.body,
            status=response.status,
            content_type=(response.headers.get("Content-Type") or b"").decode("latin-1") or None,
            parser_version=PARSER_VERSION,
        )
        if depth >= 1 and record.related:
            # An article given as a start page doubles as a listing (KCNA Watch's "More From").
            yield from self.follow_entries(record.related, None)

    def fetch_failed(self, failure: Failure) -> Iterator[FailureItem | ProgressItem]:
        request = failure.request  # type: ignore[attr-defined]
        public_url = request.cb_kwargs.get("public_url") or self.site.to_public(request.url)
        response = getattr(failure.value, "response", None)
        reason = failure_reason(failure.value)  # off-site redirect, too large, truncated, ...
        level = getattr(failure.value, "log_level", logging.WARNING)
        checked = bool(request.meta.get(CHECK))
        if checked and response is not None and response.status in GONE_STATUSES:
            # A stored article's page says it is gone: mark it, do not retry it as a failure.
            yield self.gone(public_url, reason)
        else:
            self.crawler.stats.inc_value(keys.FETCH_FAILURES)
            if request.meta.get(ABANDONED):  # the crawl is stopping: retried next time
                self.logger.info("abandoned at the stop: %s", public_url)
                reason = "abandoned: the crawl was stopped"
            else:
                self.logger.log(level, "could not fetch %s: %s", public_url, reason)
            kwargs = request.cb_kwargs
            yield self.failure(public_url, reason, kwargs.get("hint"), kwargs.get("category"))
        if checked:
            yield CheckedItem(public_url, datetime.now(UTC))
        yield from self._answered(request.meta)

    def gone(self, public_url: str, reason: str) -> GoneItem:
        """A stored article's page says it is gone (``reason``)."""
        self.crawler.stats.inc_value(keys.GONE_PAGES)
        self.logger.info("gone: %s (%s)", public_url, reason)
        return GoneItem(url=public_url, reason=reason, at=datetime.now(UTC))

    @staticmethod
    def failure(
        url: str, reason: str, hint: ListingEntry | None = None, category: str | None = None
    ) -> FailureItem:
        """A page that gave no article, with what its listing said (for a later retry)."""
        listed_on = hint.published if hint else None
        return FailureItem(url, reason, datetime.now(UTC), listed_on=listed_on, category=category)
