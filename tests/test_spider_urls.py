"""Spiders fetch from a mirror but report public URLs, and never leave their source's host."""

import re

import pytest
from scrapy.exceptions import UsageError
from scrapy.utils.test import get_crawler

from crawler.extract.records import Listing, ListingEntry, PageRequest
from crawler.sources import KCNA_CATEGORY_LISTS as CATEGORY_LISTS
from crawler.spiders.kcna import KcnaSpider
from crawler.spiders.kcnawatch import KcnaWatchSpider
from crawler.spiders.urls import BadUrl, SiteUrls, check_http_url, split_option
from crawler.state import ArchiveState

KCNA_SITE = SiteUrls("http://www.kcna.kp", frozenset({"www.kcna.kp", "kcna.kp"}))


def make(spidercls, **kwargs):
    crawler = get_crawler(spidercls)
    return spidercls.from_crawler(crawler, **kwargs)


def test_mirror_urls_map_back_to_the_public_host():
    spider = make(KcnaSpider, base_url="http://127.0.0.1:8080/")
    public = "http://www.kcna.kp/en/article/detail/0123456789abcdef0123456789abcdef"
    fetch = spider.site.to_fetch(public)
    assert fetch == "http://127.0.0.1:8080/en/article/detail/0123456789abcdef0123456789abcdef"
    assert spider.site.to_public(fetch) == public


def test_mirror_with_a_path_prefix():
    spider = make(KcnaWatchSpider, base_url="http://127.0.0.1:8080/mirror/kcnawatch")
    public = "https://kcnawatch.org/newstream/1701650000-1/some-title/"
    fetch = spider.site.to_fetch(public)
    assert fetch == "http://127.0.0.1:8080/mirror/kcnawatch/newstream/1701650000-1/some-title/"
    assert spider.site.to_public(fetch) == public


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


@pytest.mark.parametrize(
    ("base_url", "public", "fetch"),
    [
        # no mirror: public URLs are fetched as they are
        (
            None,
            "http://www.kcna.kp/en/article/q/1.kcmsf",
            "http://www.kcna.kp/en/article/q/1.kcmsf",
        ),
        # a mirror keeps path and query, with or without a trailing slash
        ("http://127.0.0.1:8080/", "http://kcna.kp/a/b?x=1", "http://127.0.0.1:8080/a/b?x=1"),
        ("http://127.0.0.1:8080", "http://www.kcna.kp/", "http://127.0.0.1:8080/"),
        # a mirror under a path prefix
        (
            "http://m.example/copy/kcna/",
            "http://www.kcna.kp/en/q",
            "http://m.example/copy/kcna/en/q",
        ),
    ],
)
def test_to_fetch(base_url, public, fetch):
    assert (
        SiteUrls(KCNA_SITE.public_root, KCNA_SITE.public_hosts, base_url).to_fetch(public) == fetch
    )


@pytest.mark.parametrize(
    ("base_url", "fetched", "public"),
    [
        # a mirror URL names the public root, keeping path and query, dropping the fragment
        (
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/en/q?p=2#top",
            "http://www.kcna.kp/en/q?p=2",
        ),
        # the mirror's path prefix is not part of the public path; its root is "/"
        ("http://m.example/copy", "http://m.example/copy/en/q", "http://www.kcna.kp/en/q"),
        ("http://m.example/copy", "http://m.example/copy", "http://www.kcna.kp/"),
        # a URL outside the prefix keeps its path
        ("http://m.example/copy", "http://m.example/other/q", "http://www.kcna.kp/other/q"),
        # a public URL (any alias, any port) stays as it is, but for its fragment
        ("http://127.0.0.1:8080", "http://kcna.kp:8000/en/q#x", "http://kcna.kp:8000/en/q"),
        # without a mirror nothing is mapped, not even another host
        (None, "http://elsewhere.example/en/q#x", "http://elsewhere.example/en/q"),
    ],
)
def test_to_public(base_url, fetched, public):
    site = SiteUrls(KCNA_SITE.public_root, KCNA_SITE.public_hosts, base_url)
    assert site.to_public(fetched) == public


@pytest.mark.parametrize(
    ("url", "own"),
    [
        ("http://www.kcna.kp/en/q", True),
        ("https://KCNA.KP:8443/en/q", True),
        ("http://kcnawatch.org/newstream/", False),
        ("http://www.kcna.kp.example/en/q", False),
        ("/en/q", False),
    ],
)
def test_is_own(url, own):
    assert KCNA_SITE.is_own(url) is own


def test_a_mirror_base_url_loses_its_trailing_slash():
    assert SiteUrls("http://www.kcna.kp", frozenset(), "http://m.example/copy/").base_url == (
        "http://m.example/copy"
    )


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        (None, []),
        ("", []),
        ("http://a/1", ["http://a/1"]),
        (" http://a/1 , ,http://a/2,", ["http://a/1", "http://a/2"]),
        (["http://a/1", " ", " http://a/2 "], ["http://a/1", "http://a/2"]),
        (("x",), ["x"]),
    ],
)
def test_split_option(value, parts):
    assert split_option(value) == parts


@pytest.mark.parametrize("value", ["ftp://mirror", "mirror.example", "http://", ""])
def test_check_http_url_refuses(value):
    with pytest.raises(BadUrl, match=re.escape(f"start_url must be an http(s) URL, got {value!r}")):
        check_http_url(value, "start_url")


def test_check_http_url_passes_an_http_url_through():
    assert check_http_url("https://m.example/x", "base_url") == "https://m.example/x"
