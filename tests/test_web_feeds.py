"""The feeds of the reading room: a feed of any search, the overall and watch-rule feeds,
each with an XSL stylesheet a browser renders as a page; ETag and 304. On SQLite and
PostgreSQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest
from lxml import etree

from scheduler.monitor.feed import build_feed
from scheduler.web.feeds import as_page
from storage.repository import Repository
from tests.storage_helpers import HOUR, T0, make_item
from tests.web_helpers import RULES, context, serving, web_config

ATOM = "{http://www.w3.org/2005/Atom}"
PI = b'<?xml-stylesheet type="text/xsl" href="/static/feed.xsl"?>\n'
XSL = Path(__file__).parents[1] / "scheduler" / "web" / "static" / "feed.xsl"
HOSTILE = "A missile <script>alert(1)</script> & more"


@pytest.fixture
def archive(repo: Repository) -> Repository:
    """Articles 1-5: published in order 1..5 days after New Year, first seen in reverse."""
    repo.articles.save(
        [
            make_item(
                n,
                source="kcna" if n != 5 else "kcnawatch",
                published=date(2026, 1, 1) + timedelta(days=n),
                seen_at=T0 + (10 - n) * HOUR,
                title=f"Report {n}: {HOSTILE}" if n != 2 else "Rice",
                text=f"Report {n}: {HOSTILE}." if n != 2 else "Rice planting began.",
            )
            for n in range(1, 6)
        ]
    )
    return repo


def entries(body: bytes) -> list[ET.Element]:
    return ET.fromstring(body).findall(ATOM + "entry")


def test_a_search_feed_lists_the_newest_matches_first(archive: Repository) -> None:
    with serving(context(archive)) as client:
        base = str(client.base_url).rstrip("/")
        response = client.get("/search.atom", params={"q": "missile"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
        assert response.content.split(b"\n", 2)[1] + b"\n" == PI
        found = entries(response.content)
        titles = [e.findtext(ATOM + "title") for e in found]
        assert titles == [f"Report {n}: {HOSTILE}" for n in (1, 3, 4, 5)]  # by first sighting
        first = found[0]
        links = {link.get("rel"): link.get("href") for link in first.findall(ATOM + "link")}
        article = archive.articles.get(links["alternate"].rsplit("/", 1)[-1])
        assert links == {"alternate": f"{base}/articles/{article.id}", "related": article.url}
        assert first.findtext(ATOM + "summary").startswith("Report 1: A missile")
        assert first.find(ATOM + "content") is None
        root = ET.fromstring(response.content)
        feed_links = {link.get("rel"): link.get("href") for link in root.findall(ATOM + "link")}
        assert feed_links == {
            "self": f"{base}/search.atom?q=missile&sort=first-seen",
            "alternate": f"{base}/search?q=missile",
        }

        by_date = client.get("/search.atom", params={"q": "missile", "sort": "published"})
        assert [e.findtext(ATOM + "title") for e in entries(by_date.content)] == [
            f"Report {n}: {HOSTILE}" for n in (5, 4, 3, 1)
        ]
        only = client.get("/search.atom", params={"q": "missile", "source": "kcnawatch"})
        assert len(entries(only.content)) == 1
        everything = client.get("/search.atom")  # no query: the archive, newest first
        assert len(entries(everything.content)) == 5
        bad = client.get("/search.atom", params={"q": '"open'})
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/plain")


def test_a_search_feed_says_which_articles_are_gone(archive: Repository) -> None:
    (hit,) = archive.search.find("rice").hits
    archive.crawl_state.mark_gone([hit.id], at=T0 + 20 * HOUR, reason="HTTP 404")
    with serving(context(archive)) as client:
        (entry,) = entries(client.get("/search.atom", params={"q": "rice"}).content)
    assert entry.findtext(ATOM + "title") == "[gone] Rice"
    assert entry.findtext(ATOM + "summary").startswith("No longer on the site. Rice planting")


def test_a_browser_gets_the_page_of_the_stylesheet(archive: Repository) -> None:
    with serving(context(archive, web_config(RULES))) as client:
        for path in ("/search.atom?q=missile", "/feed.atom", "/feed/missiles.atom"):
            reader = client.get(path)
            browser = client.get(path, headers={"Accept": "text/html,application/xml;q=0.9"})
            assert browser.headers["content-type"] == "text/html; charset=utf-8"
            assert browser.content == as_page(reader.content) and PI in reader.content
            assert b"Subscribe by copying this URL into a feed reader" in browser.content
            assert reader.headers["vary"] == browser.headers["vary"] == "Accept"
            assert reader.headers["etag"] != browser.headers["etag"]
            assert "script-src" not in browser.headers["content-security-policy"]
            for answer in (reader, browser):
                again = client.get(
                    path,
                    headers={
                        "If-None-Match": answer.headers["etag"],
                        "Accept": answer.request.headers["accept"],
                    },
                )
                assert again.status_code == 304, path
        stylesheet = client.get("/static/feed.xsl")
        assert stylesheet.status_code == 200
        assert stylesheet.content == XSL.read_bytes()


def test_the_stylesheet_renders_a_feed_as_a_page_with_inert_text(archive: Repository) -> None:
    with serving(context(archive)) as client:
        feed = client.get("/search.atom", params={"q": "missile"}).content
    html = as_page(feed).decode()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    tree = etree.fromstring(html.split("\n", 1)[1], etree.HTMLParser())
    assert tree.findtext(".//h1") == "kcna-monitor: search 'missile'"
    assert "/search.atom?q=missile" in tree.findtext(".//p[@class='feed-url']/code")
    items = tree.findall(".//ol[@class='results']/li")
    assert len(items) == 4
    title = items[0].find("a[@class='title']")
    assert title.get("href") == entries(feed)[0].find(ATOM + "link").get("href")
    assert "/articles/" in title.get("href")
    assert title.text.strip() == f"Report 1: {HOSTILE}"  # shown as text
    assert items[0].find("div[@class='meta']/a").text == "original"
    assert items[0].findtext("p[@class='snippet']").startswith("Report 1: A missile")
    assert tree.find(".//script") is None


def test_the_command_line_feed_has_no_stylesheet(archive: Repository) -> None:
    body = build_feed(archive, now=T0)
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<feed ")
    assert b"xml-stylesheet" not in body
    assert len(entries(body)) == 5
