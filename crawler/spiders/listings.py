"""Walking a source's listings: which entries to fetch, where a list ends, when paging stops.

A crawl reads a source's listing pages and follows their entries to article pages, skipping
what the archive holds already. It pages on until a list ends (an empty page, or the site
answering another page than the one asked for), until ``max_pages``, until a page lists only
stored articles (unless the archive is recovering or a backfill asks for everything), or, in
a backfill with a since-date, until a page lists only older articles. A backfill counts the
pages it has finished and resumes past them. Besides the listings, a crawl fetches again the
articles that failed lately and the stored ones due for a revisit; each article page is asked
for once a run. The rules take plain values (listings read by :mod:`crawler.extract`, the
archive's state) and say what to fetch; the spider makes the requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from crawler import stats as keys
from crawler.backfill import ListingProgress, jump
from crawler.extract import page_kind
from crawler.extract.records import Listing, ListingEntry, PageRequest
from crawler.items import ListingItem, ProgressItem
from crawler.plan import CrawlPlan
from crawler.spiders.urls import SiteUrls
from crawler.state import ArchiveState

#: (the start listing's URL, a page number): where a listing page stands in its list.
Position = tuple[str, int]


#: Counts one more of a stat (a key of :mod:`crawler.stats`) in the crawl's stats.
Count = Callable[[str], object]


def past_the_end(listing: Listing, position: int, asked: int | None) -> bool:
    """Whether a listing page, the ``position``-th read of its list and asked for as page
    ``asked`` of the site's numbering (when known), lies past the end of the list: it has no
    entries, says it is another page (the site answered its first page again), or is
    numbered beyond the page count it gives."""
    if position <= 1:
        return False
    if not listing.entries:
        return True
    if asked is None:
        return False
    if listing.current_page is not None and listing.current_page != asked:
        return True
    return listing.page_count is not None and asked > listing.page_count


def all_older(listing: Listing, since: date) -> bool:
    """Whether every dated entry of a listing is older than ``since`` (and some are dated)."""
    dated = [entry.published for entry in listing.entries if entry.published]
    return bool(dated) and all(day < since for day in dated)


def listing_item(
    listing: Listing, public_url: str, position: Position | None, *, posted: bool
) -> ListingItem:
    """What a listing page shows, keyed by its URL (and page number when ``posted``)."""
    number = listing.current_page or (position[1] if position else None)
    key = f"{public_url}#page={number or '?'}" if posted else public_url
    urls = tuple(dict.fromkeys(entry.url for entry in listing.entries))
    return ListingItem(listing=key, urls=urls, at=datetime.now(UTC), page=number)


@dataclass(frozen=True, slots=True)
class NextPage:
    """A further listing page to request."""

    request: PageRequest  # what to ask for (past the pages an earlier backfill finished)
    depth: int  # how deep in its list: the site's page number when it gives one
    position: Position | None  # where it stands in its list, when the page read says


class ListingWalk:
    """One crawl's walk over its source's listings: the rules above, the article and listing
    pages requested so far, and a backfill's progress.

    ``stop_at_known``: stop paging at a page of stored articles; ``since``: a backfill's
    since-date; ``progress``: set for backfills. The archive's state arrives in
    :meth:`opened` (a crawl without it fetches every entry it meets).
    """

    def __init__(
        self,
        site: SiteUrls,
        count: Count,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        *,
        max_pages: int,
        stop_at_known: bool = True,
        since: date | None = None,
        progress: ListingProgress | None = None,
    ) -> None:
        self.site = site
        self.count = count
        self.logger = logger
        self.max_pages = max_pages
        self.stop_at_known = stop_at_known
        self.since = since
        self.progress = progress
        self.archive: ArchiveState | None = None
        #: Article URLs requested in this run.
        self.requested: set[str] = set()
        #: Listing pages requested in this run.
        self.listing_pages: set[Position] = set()

    @classmethod
    def for_plan(
        cls,
        plan: CrawlPlan,
        site: SiteUrls,
        count: Count,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        max_pages: int,
    ) -> ListingWalk:
        """The walk of a crawl run by ``plan``: a backfill keeps its progress and stops at its
        since-date; whether paging stops at stored articles is the plan's to say."""
        backfill = plan.kind == "backfill"
        return cls(
            site,
            count,
            logger,
            max_pages=max_pages,
            stop_at_known=plan.stops_at_known,
            since=plan.since if backfill else None,
            progress=ListingProgress() if backfill else None,
        )

    def opened(self, state: ArchiveState) -> None:
        """The archive's state is read: what is stored, gone, and backfilled already."""
        self.archive = state
        if self.progress is not None:
            self.progress.done.update(state.pages_done)

    def retries(self) -> Iterator[tuple[str, ListingEntry | None, str | None]]:
        """Article pages that failed in recent runs and are still missing, to try again, with
        what their listing said (its date, and its category when it is one)."""
        if self.archive is None:
            return
        categories = self.archive.retry_categories
        for url, listed_on in sorted(self.archive.retry_urls.items()):
            if self.site.is_own(url) and _is_article(url):
                self.requested.add(url)  # a listing showing it need not ask again
                self.count(keys.FAILED_RETRIED)
                yield url, _hint(url, listed_on), categories.get(url)

    def revisits(self) -> Iterator[tuple[str, ListingEntry | None]]:
        """Stored articles due for a revisit (or named by a recheck), then those a sweep
        checks in this run (least recently checked first, as the archive chose them); none
        requested already."""
        archive = self.archive or ArchiveState()
        yield from self._checks(sorted(archive.revisit_urls.items()), keys.REVISITED)
        yield from self._checks(archive.sweep_urls.items(), keys.SWEPT)

    def _checks(
        self, pages: Iterable[tuple[str, date | None]], stat: str
    ) -> Iterator[tuple[str, ListingEntry | None]]:
        for url, published in pages:
            if url in self.requested or not self.site.is_own(url) or not _is_article(url):
                continue
            self.requested.add(url)
            self.count(stat)
            yield url, _hint(url, published)

    def ended(self, listing: Listing, position: Position, asked: int | None) -> bool:
        """Whether a listing page read at ``position`` lies past the end of its list."""
        if not past_the_end(listing, position[1], asked):
            return False
        self.count(keys.LISTING_ENDS)
        self.logger.info(
            "%s: asked for page %d, got %s: the end of the list",
            position[0],
            position[1],
            f"page {listing.current_page}" if listing.entries else "no entries",
        )
        return True

    def new_entries(self, entries: tuple[ListingEntry, ...]) -> Iterator[tuple[ListingEntry, bool]]:
        """The entries to fetch, each with whether to check a stored article's page (one
        marked gone: is it back? one listed under another title: was it retitled?): not
        those requested already, off the site, stored (unless so), or older than the
        since-date."""
        for entry in entries:
            if entry.url in self.requested:
                continue
            if not self.site.is_own(entry.url):
                self.count(keys.OFFSITE_LINKS)
                continue
            check = self._check_known(entry)
            if check is None:
                continue
            if self.since and entry.published and entry.published < self.since:
                self.count(keys.OLDER_THAN_SINCE)
                continue
            self.requested.add(entry.url)
            yield entry, check

    def _check_known(self, entry: ListingEntry) -> bool | None:
        """Whether a listed entry is a stored article to check again (marked gone, or listed
        under another title than the stored one); None for a stored one to skip."""
        archive = self.archive
        if archive is None or not archive.knows(entry.url):
            return False
        if archive.is_gone(entry.url):
            return True
        if archive.retitled(entry.url, entry.title):
            self.count(keys.RETITLED)
            self.logger.info("listed under another title: %s (%r)", entry.url, entry.title)
            return True
        self.count(keys.KNOWN_SKIPPED)
        return None

    def listed(
        self, listing: Listing, position: Position | None, requests: int
    ) -> ProgressItem | None:
        """A listing page was read and gave ``requests`` article requests: a backfill's
        progress, when that finishes pages."""
        self.count(keys.LISTING_PAGES)
        if not listing.entries:
            self.count(keys.EMPTY_LISTINGS)
            self.logger.warning("listing %s has no entries", listing.url)
        if self.progress is None or position is None:
            return None
        return self.progress.listed(*position, requests, listing.page_count)

    def answered(self, origin: Position | None) -> ProgressItem | None:
        """An article request that the listing page at ``origin`` gave rise to is answered."""
        if self.progress is None or origin is None:
            return None
        return self.progress.answered(*origin)

    def next_pages(
        self, listing: Listing, depth: int, position: Position | None, requests: int
    ) -> Iterator[NextPage]:
        """The further pages of a listing page read at ``depth`` (and ``position``) that gave
        ``requests`` article requests; none when its list stops here."""
        if not self._pages_on(listing, depth, position, requests):
            return
        for next_page in listing.next_pages:
            if not self.site.is_own(next_page.url):
                continue
            target = self.resume_target(position, next_page, listing.page_count)
            if target is None:
                continue
            number = target.page or (position[1] + 1 if position else depth + 1)
            if position is not None:
                if (position[0], number) in self.listing_pages:
                    self.logger.debug("%s: page %d was requested already", position[0], number)
                    continue
                self.listing_pages.add((position[0], number))
            at = (position[0], number) if position is not None else None
            yield NextPage(target, target.page or depth + 1, at)

    def _pages_on(
        self, listing: Listing, depth: int, position: Position | None, requests: int
    ) -> bool:
        if not listing.entries or not listing.next_pages:
            return False  # an empty page ends a list, whatever its paging script says
        if depth >= self.max_pages:
            if self.progress is not None:
                self.logger.warning(
                    "%s: stopped at page %d, the most a backfill reads (--pages sets it)",
                    position[0] if position else listing.url,
                    depth,
                )
            return False
        recovering = self.archive is not None and self.archive.recovering
        if not requests and self.stop_at_known and not recovering:
            self.count(keys.PAGING_STOPPED_AT_KNOWN)
            self.logger.debug("every entry of %s is stored already: not paging on", listing.url)
            return False
        if self.since and all_older(listing, self.since):
            self.logger.info("%s lists nothing since %s: not paging on", listing.url, self.since)
            return False
        return True

    def resume_target(
        self, position: Position | None, next_page: PageRequest, page_count: int | None
    ) -> PageRequest | None:
        """The next page to fetch: past the pages an earlier backfill finished, if any."""
        if self.progress is None or position is None or position[1] != 1:
            return next_page
        done = self.progress.done.get(position[0], 0)
        if done < 2:
            return next_page
        if page_count is not None and done >= page_count:
            self.logger.info("%s: all %d pages were backfilled already", position[0], page_count)
            return None
        target = jump(next_page, done + 1)
        if target is None:
            return next_page  # walk from page 2 again; stored articles are not refetched
        self.logger.info("%s: resuming the backfill at page %d", position[0], done + 1)
        return target


def _is_article(url: str) -> bool:
    return (page_kind(url) or "").endswith("-article")


def _hint(url: str, published: date | None) -> ListingEntry | None:
    """What an article's listing said of it, for a page fetched without its listing."""
    return ListingEntry(url=url, title="", published=published) if published else None
