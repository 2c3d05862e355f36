"""The rules of walking listings, from plain values: where a list ends, which entries are
fetched, when paging stops, where a backfill resumes."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date

import pytest

from crawler import stats as keys
from crawler.backfill import ListingProgress
from crawler.extract.records import Listing, ListingEntry, PageRequest
from crawler.items import ProgressItem
from crawler.plan import CrawlPlan
from crawler.spiders.listings import (
    ListingWalk,
    NextPage,
    all_older,
    listing_item,
    past_the_end,
)
from crawler.spiders.urls import SiteUrls
from crawler.state import ArchiveState

SITE = SiteUrls("https://kcnawatch.org", frozenset({"kcnawatch.org"}))
LIST = "https://kcnawatch.org/newstream/"
A = "https://kcnawatch.org/newstream/1-1/a/"
B = "https://kcnawatch.org/newstream/1-2/b/"
OFFSITE = "http://www.kcna.kp/en/article/q/abc.kcmsf"
PAGE_2 = PageRequest(url=LIST + "page/2/", page=2)


class Stats(Counter[str]):
    def count(self, key: str) -> None:
        self[key] += 1


def entry(url: str, published: date | None = None) -> ListingEntry:
    return ListingEntry(url=url, title=url.rsplit("/", 2)[-2], published=published)


def listing(
    *entries: ListingEntry,
    next_pages: tuple[PageRequest, ...] = (PAGE_2,),
    current: int | None = None,
    count: int | None = None,
) -> Listing:
    return Listing(LIST, entries, next_pages, current_page=current, page_count=count)


def walk(
    archive: ArchiveState | None = None, stats: Stats | None = None, **kwargs: object
) -> ListingWalk:
    kwargs.setdefault("max_pages", 10)
    count = (stats if stats is not None else Stats()).count
    walker = ListingWalk(SITE, count, logging.getLogger("test"), **kwargs)  # type: ignore[arg-type]
    if archive is not None:
        walker.opened(archive)
    return walker


TWO = (entry(A), entry(B))


@pytest.mark.parametrize(
    ("page", "position", "asked", "ended"),
    [
        (listing(), 1, None, False),  # a first page never ends a list, even an empty one
        (listing(*TWO, current=3), 1, 2, False),
        (listing(), 2, None, True),  # an empty further page does
        (listing(), 2, 2, True),
        (listing(*TWO), 2, None, False),  # entries and no number asked for: read on
        (listing(*TWO, current=1), 2, 2, True),  # the site answered its first page again
        (listing(*TWO, current=2), 2, 2, False),
        (listing(*TWO, count=5), 3, 5, False),  # the last page
        (listing(*TWO, count=5), 3, 6, True),  # numbered beyond the page count
        (listing(*TWO, current=6), 3, 6, False),  # it is the page asked for
        (listing(*TWO, current=6, count=5), 3, 6, True),  # past the count all the same
    ],
)
def test_past_the_end(page: Listing, position: int, asked: int | None, ended: bool) -> None:
    assert past_the_end(page, position, asked) is ended


@pytest.mark.parametrize(
    ("published", "older"),
    [
        ((), False),  # nothing listed
        ((None, None), False),  # nothing dated: cannot tell
        ((date(2024, 1, 1), date(2024, 2, 1)), True),
        ((date(2024, 1, 1), None), True),  # undated entries do not count
        ((date(2024, 1, 1), date(2024, 3, 1)), False),  # one on the since-date
        ((date(2024, 4, 1),), False),
    ],
)
def test_all_older(published: tuple[date | None, ...], older: bool) -> None:
    page = listing(*(entry(f"{LIST}{n}-1/x/", day) for n, day in enumerate(published)))
    assert all_older(page, date(2024, 3, 1)) is older


@pytest.mark.parametrize(
    ("position", "current", "posted", "key", "page"),
    [
        (None, None, False, LIST, None),
        ((LIST, 3), None, False, LIST, 3),
        ((LIST, 3), 4, False, LIST, 4),  # the page's own number first
        ((LIST, 3), None, True, LIST + "#page=3", 3),  # a POSTed page: keyed by its number
        (None, None, True, LIST + "#page=?", None),
    ],
)
def test_listing_item(
    position: tuple[str, int] | None, current: int | None, posted: bool, key: str, page: int | None
) -> None:
    shown = listing(entry(A), entry(B), entry(A), current=current)
    item = listing_item(shown, LIST, position, posted=posted)
    assert (item.listing, item.urls, item.page) == (key, (A, B), page)


def test_new_entries_skip_requested_offsite_stored_and_old_ones() -> None:
    archive = ArchiveState.of({A, B})
    archive.gone_urls.add(B)
    stats = Stats()
    walker = walk(archive, stats, since=date(2024, 3, 1))
    c, d = f"{LIST}1-3/c/", f"{LIST}1-4/d/"
    entries = (
        entry(A),  # stored
        entry(B),  # stored, but gone: is it back?
        entry(OFFSITE),
        entry(c, date(2024, 2, 28)),  # older than the since-date
        entry(d, date(2024, 3, 1)),
        entry(d),  # requested already
    )
    assert [(e.url, check) for e, check in walker.new_entries(entries)] == [(B, True), (d, False)]
    assert walker.requested == {B, d}
    assert stats == {
        keys.KNOWN_SKIPPED: 1,
        keys.OFFSITE_LINKS: 1,
        keys.OLDER_THAN_SINCE: 1,
    }


def urls(pages: list[NextPage]) -> list[tuple[str, int, tuple[str, int] | None]]:
    return [(p.request.url, p.depth, p.position) for p in pages]


@pytest.mark.parametrize(
    ("page", "depth", "requests", "archive", "kwargs", "expected"),
    [
        # new articles listed and a next page: page on
        (listing(*TWO), 1, 2, None, {}, [(PAGE_2.url, 2, (LIST, 2))]),
        # an empty page, or no next page, ends the list
        (listing(), 1, 0, None, {}, []),
        (listing(*TWO, next_pages=()), 1, 2, None, {}, []),
        # the most pages read
        (listing(*TWO), 3, 2, None, {"max_pages": 3}, []),
        # every entry stored: stop, unless paging on past known articles (a backfill) ...
        (listing(*TWO), 1, 0, None, {}, []),
        (listing(*TWO), 1, 0, None, {"stop_at_known": False}, [(PAGE_2.url, 2, (LIST, 2))]),
        # ... or the last crawl did not finish
        (listing(*TWO), 1, 0, ArchiveState(recovering=True), {}, [(PAGE_2.url, 2, (LIST, 2))]),
        # everything listed is older than the since-date
        (
            listing(entry(A, date(2024, 1, 1))),
            1,
            1,
            None,
            {"since": date(2024, 3, 1)},
            [],
        ),
        # a next page off the site is not followed
        (listing(*TWO, next_pages=(PageRequest(OFFSITE, page=2),)), 1, 2, None, {}, []),
        # a next page without a number: the next depth
        (
            listing(*TWO, next_pages=(PageRequest(LIST + "?older"),)),
            2,
            2,
            None,
            {},
            [(LIST + "?older", 3, (LIST, 3))],
        ),
    ],
)
def test_next_pages(
    page: Listing,
    depth: int,
    requests: int,
    archive: ArchiveState | None,
    kwargs: dict[str, object],
    expected: list[tuple[str, int, tuple[str, int] | None]],
) -> None:
    position = (LIST, depth)
    assert urls(list(walk(archive, **kwargs).next_pages(page, depth, position, requests))) == (
        expected
    )


def test_a_listing_page_is_requested_once_a_run() -> None:
    walker = walk()
    assert len(list(walker.next_pages(listing(*TWO), 1, (LIST, 1), 2))) == 1
    assert list(walker.next_pages(listing(*TWO), 1, (LIST, 1), 2)) == []
    assert walker.listing_pages == {(LIST, 2)}


def test_without_a_position_pages_are_not_remembered() -> None:
    walker = walk()
    assert urls(list(walker.next_pages(listing(*TWO), 1, None, 2))) == [(PAGE_2.url, 2, None)]
    assert len(list(walker.next_pages(listing(*TWO), 1, None, 2))) == 1


def backfill(done: int, stats: Stats | None = None) -> ListingWalk:
    archive = ArchiveState()
    archive.pages_done[LIST] = done
    return walk(archive, stats, stop_at_known=False, progress=ListingProgress())


@pytest.mark.parametrize(
    ("done", "count", "expected"),
    [
        (0, None, [(PAGE_2.url, 2, (LIST, 2))]),  # nothing backfilled yet
        (1, None, [(PAGE_2.url, 2, (LIST, 2))]),
        (1, 1, [(PAGE_2.url, 2, (LIST, 2))]),  # one page done is no resume (nor the end)
        (4, None, [(LIST + "page/5/", 5, (LIST, 5))]),  # resume past the pages done
        (4, 9, [(LIST + "page/5/", 5, (LIST, 5))]),
        (9, 9, []),  # all of them done
    ],
)
def test_a_backfill_resumes_past_the_pages_it_finished(
    done: int, count: int | None, expected: list[tuple[str, int, tuple[str, int] | None]]
) -> None:
    page = listing(*TWO, count=count)
    assert urls(list(backfill(done).next_pages(page, 1, (LIST, 1), 0))) == expected


def test_only_a_first_page_jumps_and_an_unknown_paging_walks_on() -> None:
    assert urls(list(backfill(4).next_pages(listing(*TWO), 2, (LIST, 2), 0))) == [
        (PAGE_2.url, 2, (LIST, 2))  # (the page number the site gives: its list decides)
    ]
    unknown = listing(*TWO, next_pages=(PageRequest(LIST + "?older", page=2),))
    assert urls(list(backfill(4).next_pages(unknown, 1, (LIST, 1), 0))) == [
        (LIST + "?older", 2, (LIST, 2))
    ]


def test_a_backfill_reports_pages_done_when_their_articles_are_answered() -> None:
    stats = Stats()
    walker = backfill(0, stats)
    assert walker.listed(listing(*TWO), (LIST, 1), 2) is None
    assert walker.answered((LIST, 1)) is None
    assert walker.answered((LIST, 1)) == ProgressItem(LIST, 1, None)
    assert walker.listed(listing(*TWO, count=7), (LIST, 2), 0) == ProgressItem(LIST, 2, 7)
    assert stats == {keys.LISTING_PAGES: 2}


def test_a_crawl_keeps_no_progress() -> None:
    stats = Stats()
    walker = walk(stats=stats)
    assert walker.listed(listing(), (LIST, 1), 0) is None
    assert walker.answered((LIST, 1)) is None
    assert stats == {keys.LISTING_PAGES: 1, keys.EMPTY_LISTINGS: 1}


def test_retries_and_revisits_are_own_articles_requested_once() -> None:
    article = "https://kcnawatch.org/newstream/1701650000-1/some-title/"
    other = "https://kcnawatch.org/newstream/1701650000-2/other/"
    archive = ArchiveState.of(
        (),
        retry_urls={article: date(2024, 1, 2), LIST: None, OFFSITE: None},
    )
    archive.revisit_urls = {article: None, other: None, LIST + "page/2/": None}
    stats = Stats()
    walker = walk(archive, stats)
    hint = ListingEntry(url=article, title="", published=date(2024, 1, 2))
    assert list(walker.retries()) == [(article, hint, None)]
    assert list(walker.revisits()) == [(other, None)]
    assert walker.requested == {article, other}
    assert stats == {keys.FAILED_RETRIED: 1, keys.REVISITED: 1}


@pytest.mark.parametrize(
    ("plan", "stops", "since", "progress"),
    [
        (CrawlPlan(), True, None, False),
        (CrawlPlan("refetch"), False, None, False),
        (CrawlPlan("backfill", since=date(2024, 1, 1)), False, date(2024, 1, 1), True),
        (CrawlPlan("recheck", since=date(2024, 1, 1)), False, None, False),
    ],
)
def test_the_walk_of_a_plan(plan: CrawlPlan, stops: bool, since: date | None, progress: bool):
    walker = ListingWalk.for_plan(plan, SITE, Stats().count, logging.getLogger("test"), 3)
    assert (walker.stop_at_known, walker.since, walker.progress is not None) == (
        stops,
        since,
        progress,
    )
    assert walker.max_pages == 3


@pytest.mark.parametrize(
    ("stored", "listed", "fetched"),
    [
        ("Kim Jong Un Inspects Farm", "Kim Jong Un Inspects Farm", False),
        ("Kim Jong Un Inspects Farm", "  kim jong un  INSPECTS farm ", False),  # case, spaces
        ("Kim Jong Un's Visit", "Kim Jong Un\u2019s Visit", False),  # a curly apostrophe
        ("Kim Jong Un Inspects Farm", "Kim Jong Un Inspects Farm.", False),  # punctuation
        ("Kim Jong Un Inspects Farm", "Kim Jong Un Inspects...", False),  # cut short
        ("Kim Jong Un Inspects Farm", "Kim Jong Un Visits\u2026", True),  # cut short, other
        ("Kim Jong Un Inspects Farm", "Kim Jong Un Inspects Factory", True),  # retitled
        ("Kim Jong Un Inspects Farm", "", False),  # the listing shows no title
        (None, "Anything", False),  # stored, title unknown
    ],
)
def test_a_stored_article_is_fetched_again_when_listed_under_another_title(
    stored: str | None, listed: str, fetched: bool
) -> None:
    archive = ArchiveState.of({A})
    if stored is not None:
        archive.set_titles({A: stored})
    stats = Stats()
    walker = walk(archive, stats)
    shown = ListingEntry(url=A, title=listed)
    assert [(e.url, check) for e, check in walker.new_entries((shown,))] == (
        [(A, True)] if fetched else []
    )
    assert stats == ({keys.RETITLED: 1} if fetched else {keys.KNOWN_SKIPPED: 1})
    assert walker.requested == ({A} if fetched else set())


def test_a_retitled_article_is_fetched_once_and_a_gone_one_is_not_counted_retitled() -> None:
    archive = ArchiveState.of({A, B})
    archive.set_titles({A: "Old title", B: "Old title"})
    archive.gone_urls.add(B)
    stats = Stats()
    walker = walk(archive, stats)
    entries = (ListingEntry(A, "New title"), ListingEntry(B, "New"), ListingEntry(A, "New"))
    assert [(e.url, check) for e, check in walker.new_entries(entries)] == [(A, True), (B, True)]
    assert stats == {keys.RETITLED: 1}


def test_retries_carry_the_category_of_the_listing_that_linked_them() -> None:
    article = "https://kcnawatch.org/newstream/1701650000-1/some-title/"
    other = "https://kcnawatch.org/newstream/1701650000-2/other/"
    archive = ArchiveState.of((), retry_urls={article: date(2024, 1, 2), other: None})
    archive.retry_categories = {article: "Top News"}
    walker = walk(archive)
    hint = ListingEntry(url=article, title="", published=date(2024, 1, 2))
    assert list(walker.retries()) == [(article, hint, "Top News"), (other, None, None)]
