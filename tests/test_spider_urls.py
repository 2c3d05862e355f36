"""Spiders fetch from a mirror but report public URLs, and never leave their source's host."""

import re

import pytest
from scrapy.exceptions import UsageError
from scrapy.utils.test import get_crawler

from crawler.extract.records import Listing, ListingEntry, PageRequest
from crawler.sources import KCNA_CATEGORY_LISTS as CATEGORY_LISTS
from crawler.spiders.kcna import KcnaSpider
from crawler.spiders.kcnawatch import KcnaWatchSpider
from crawler.state import ArchiveState


def make(spidercls, **kwargs):
    crawler = get_crawler(spidercls)
    return spidercls.from_crawler(crawler, **kwargs)


def test_mirror_urls_map_back_to_the_public_host():
    spider = make(KcnaSpider, base_url="http://127.0.0.1:8080/")
    public = "http://www.kcna.kp/en/article/detail/0123456789abcdef0123456789abcdef"
    fetch = spider.to_fetch(public)
    assert fetch == "http://127.0.0.1:8080/en/article/detail/0123456789abcdef0123456789abcdef"
    assert spider.to_public(fetch) == public


def test_mirror_with_a_path_prefix():
    spider = make(KcnaWatchSpider, base_url="http://127.0.0.1:8080/mirror/kcnawatch")
    public = "https://kcnawatch.org/newstream/1701650000-1/some-title/"
    fetch = spider.to_fetch(public)
    assert fetch == "http://127.0.0.1:8080/mirror/kcnawatch/newstream/1701650000-1/some-title/"
    assert spider.to_public(fetch) == public


def test_start_urls_given_as_mirror_urls_are_stored_as_public_urls():
    spider = make(
        KcnaSpider,
        base_url="http://127.0.0.1:8080",
        start_url="http://127.0.0.1:8080/en/article/list/a666dda1282180e0ee1b4427b0574ae7",
    )
    assert spider.start_page_urls == [
        "http://www.kcna.kp/en/article/list/a666dda1282180e0ee1b4427b0574ae7"
    ]


def test_default_start_pages_are_the_category_lists():
    spider = make(KcnaSpider)
    assert len(spider.default_start_paths) == len(CATEGORY_LISTS)
    assert all(path.startswith("/en/article/list/") for path in spider.default_start_paths)


def test_links_off_the_source_host_are_not_followed():
    spider = make(KcnaWatchSpider)
    entries = (
        ListingEntry(url="https://kcnawatch.org/newstream/1-2/a/", title="a"),
        ListingEntry(url="http://www.kcna.kp/en/article/q/abc.kcmsf", title="original"),
        ListingEntry(url="https://kcnawatch.org/newstream/1-2/a/", title="a again"),
    )
    requests = list(spider.follow_entries(entries, None))
    assert [r.cb_kwargs["public_url"] for r in requests] == [
        "https://kcnawatch.org/newstream/1-2/a/"
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "ftp://mirror"}, "base_url must be an http(s) URL"),
        ({"start_url": "not a url"}, "start_url must be an http(s) URL"),
        ({"max_pages": "many"}, "max_pages must be a whole number"),
        ({"max_pages": "0"}, "max_pages must be at least 1"),
    ],
)
def test_bad_spider_arguments_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        make(KcnaSpider, **kwargs)


def listing_with_next_page() -> Listing:
    return Listing(
        url="https://kcnawatch.org/newstream/",
        entries=(
            ListingEntry(url="https://kcnawatch.org/newstream/1-1/a/", title="a"),
            ListingEntry(url="https://kcnawatch.org/newstream/1-2/b/", title="b"),
        ),
        next_pages=(PageRequest(url="https://kcnawatch.org/newstream/page/2/", page=2),),
    )


def test_stored_articles_are_not_fetched_again():
    spider = make(KcnaWatchSpider)
    spider.archive_opened(ArchiveState.of({"https://kcnawatch.org/newstream/1-1/a/"}))
    urls = [
        r.cb_kwargs["public_url"] for r in spider.follow_listing(listing_with_next_page(), 1, None)
    ]
    assert urls == [
        "https://kcnawatch.org/newstream/1-2/b/",
        "https://kcnawatch.org/newstream/page/2/",
    ]


def test_paging_stops_at_a_listing_page_of_known_articles():
    spider = make(KcnaWatchSpider)
    listing = listing_with_next_page()
    spider.archive_opened(ArchiveState.of(entry.url for entry in listing.entries))
    assert list(spider.follow_listing(listing, 1, None)) == []


def test_backfill_pages_on_past_known_articles():
    crawler = get_crawler(KcnaWatchSpider, {"KCNA_MONITOR_PLAN": "backfill"})
    spider = KcnaWatchSpider.from_crawler(crawler)
    listing = listing_with_next_page()
    spider.archive_opened(ArchiveState.of(entry.url for entry in listing.entries))
    [request] = spider.follow_listing(listing, 1, None)
    assert request.cb_kwargs["public_url"] == "https://kcnawatch.org/newstream/page/2/"
    assert request.meta["kcna_listing"] is True
