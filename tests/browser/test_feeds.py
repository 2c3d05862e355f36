"""In a browser: a search offers its Atom feed (a visible link and the head's alternate
link); the feed is valid Atom, and opened in the browser it reads as a page, not raw XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.browser.person import search_from_box

pytestmark = pytest.mark.browser


ATOM = "{http://www.w3.org/2005/Atom}"
#: What Chromium says above an XML document it shows raw (no stylesheet applied).
RAW_XML = "does not appear to have any style information"


def subscribe_url(page: Any) -> str:
    """The feed the results page offers; its visible link and its head link must agree."""
    alternate = page.locator('head link[rel=alternate][type="application/atom+xml"]')
    assert alternate.count() == 1
    subscribe = page.locator("a.subscribe")
    assert subscribe.is_visible()
    href = urljoin(page.url, alternate.get_attribute("href"))
    assert urljoin(page.url, subscribe.get_attribute("href")) == href
    return href


def atom(page: Any, url: str) -> ET.Element:
    """The feed at ``url`` as a feed reader gets it: Atom, with its stylesheet named."""
    answer = page.request.get(url, headers={"Accept": "application/atom+xml"})
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    body = answer.body()
    assert b"<?xml-stylesheet" in body and b"feed.xsl" in body
    root = ET.fromstring(body)
    assert root.tag == ATOM + "feed"
    return root


def test_a_search_offers_its_feed_and_the_feed_is_atom_of_the_same_results(
    page: Any, site: str
) -> None:
    search_from_box(page, site, "Korea")
    shown = [" ".join(t.split()) for t in page.locator("ol.results > li a.title").all_inner_texts()]
    total = page.locator(".count").inner_text()
    feed = subscribe_url(page)
    assert "/search.atom?" in feed and "q=Korea" in feed

    root = atom(page, feed)
    assert root.findtext(ATOM + "title") and root.findtext(ATOM + "updated")
    entries = root.findall(ATOM + "entry")
    assert f"{len(entries)} results" in total  # every match (the archive is small)
    titles = [" ".join((e.findtext(ATOM + "title") or "").split()) for e in entries]
    for title in shown:  # the feed may order them newest first, and say "edited"
        assert any(title in entry for entry in titles), title
    for entry in entries:
        assert entry.findtext(ATOM + "id") and entry.find(ATOM + "link") is not None


def test_the_feed_opened_in_the_browser_reads_as_a_page(page: Any, site: str) -> None:
    search_from_box(page, site, "Korea")
    feed = subscribe_url(page)
    first = atom(page, feed).find(f"{ATOM}entry/{ATOM}title")
    assert first is not None and first.text
    answer = page.goto(feed)
    assert answer.status == 200
    assert RAW_XML not in page.locator("body").inner_text()
    assert page.get_by_text(" ".join(first.text.split())).first.is_visible()
    # The entries link to their pages in the reading room.
    assert page.locator("a[href*='/articles/']").count() >= 1
