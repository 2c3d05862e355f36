"""The reading room's HTML pages, served over HTTP on an archive with an edited, a gone and a
hostile article: listing, paging, filters, search with marked hits and facets, an article
with its word-level differences and timeline, the sources and watch pages, the error pages;
on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from scheduler.web.app import create_app
from scheduler.web.server import WebServer
from storage.errors import AmbiguousId
from storage.repository import Repository
from tests.monitor_helpers import Clock
from tests.pages_helpers import FAILURE, PAGE_SIZE, PLAIN, Archive, build_archive, web_context
from tests.storage_helpers import HOUR, T0

TOTAL = PLAIN + 3
_RESULT = re.compile(r'<a class="title" href="/articles/([0-9a-f]+)[^"]*">')


@dataclass
class Site:
    client: httpx.Client
    archive: Archive
    repo: Repository

    def get(self, path: str, status: int = 200) -> str:
        response = self.client.get(path)
        assert response.status_code == status, (path, response.status_code, response.text)
        return response.text


@pytest.fixture
def site(repo: Repository, db_url: str) -> Iterator[Site]:
    clock = Clock(T0 + HOUR * 10)
    archive = build_archive(repo, clock)
    with (
        WebServer(create_app(web_context(repo, clock, db_url)), "127.0.0.1", 0) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield Site(client, archive, repo)


def results(page: str) -> list[str]:
    """The article ids a results page lists, in order."""
    listed = page.split('<ol class="results">', 1)[1].split("</ol>", 1)[0]
    return _RESULT.findall(listed)


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def count(page: str) -> str:
    found = re.search(r'<p class="count">([^,<]+)', page)
    assert found, page
    return found.group(1).strip()


def test_the_archive_lists_newest_first_in_pages_with_stable_links(site: Site) -> None:
    first = site.get("/")
    assert count(first) == f"{TOTAL} articles"
    ids = results(first)
    assert ids[:2] == [site.archive.gone, site.archive.edited]  # published 3 and 2 March
    assert len(ids) == PAGE_SIZE and link(first, "prev") is None
    assert link(first, "next") == "/?page=2"
    seen = list(ids)
    for number in range(2, -(-TOTAL // PAGE_SIZE) + 1):
        page = site.get(f"/?page={number}")
        seen += results(page)
        assert link(page, "prev") == ("/" if number == 2 else f"/?page={number - 1}")
        last = number * PAGE_SIZE >= TOTAL
        assert link(page, "next") == (None if last else f"/?page={number + 1}")
    assert len(seen) == TOTAL == len(set(seen))
    assert seen[-1] == site.archive.hostile  # undated: last
    assert results(site.get("/?page=9")) == [] and link(site.get("/?page=9"), "next") is None


def test_filters_narrow_the_archive(site: Site) -> None:
    assert '>Rodong Sinmun</a> <span class="n">10</span>' in site.get("/")
    assert count(site.get("/?source=Rodong+Sinmun")) == "10 articles"
    gone = site.get("/?gone=1")
    assert results(gone) == [site.archive.gone] and '<span class="gone"' in gone
    edited = site.get("/?edited=1")
    assert results(edited) == [site.archive.edited] and "3 versions" in edited
    assert count(site.get("/?since=2026-01-10&until=2026-01-12")) == "3 articles"
    assert count(site.get("/?category=News")) == f"{PLAIN // 2} articles"
    newest_seen = site.get("/?sort=first-seen")
    assert results(newest_seen)[0] == site.archive.edited
    assert link(site.get("/?source=KCNA.kp+(En)&sort=first-seen"), "next") == (
        "/?source=KCNA.kp+%28En%29&sort=first-seen&page=2"
    )
    assert '<option value="Rodong Sinmun" selected>' in site.get("/?source=Rodong+Sinmun")
    assert "No article matches" in site.get("/?since=2030-01-01")


def test_search_marks_hits_counts_them_and_offers_a_feed(site: Site) -> None:
    page = site.get("/search?q=launch")
    assert results(page) == [site.archive.edited] and count(page) == "1 result"
    assert "<mark>launch</mark>" in page
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert 'href="/search.atom?q=launch"' in page and '<a class="subscribe"' in page
    assert f'href="/articles/{site.archive.edited}?q=launch"' in page
    facets = page.split('<div class="facets">', 1)[1].split("</div>", 1)[0]
    assert 'href="/search?q=launch&amp;source=KCNA.kp+%28En%29">KCNA.kp (En)</a>' in facets
    assert 'href="/search?q=launch&amp;since=2026-03-01&amp;until=2026-03-31">2026-03' in facets
    narrowed = site.get("/search?q=launch&since=2026-03-01&until=2026-03-31")
    assert results(narrowed) == [site.archive.edited]
    assert results(site.get("/search?q=launch&since=2026-04-01")) == []


def test_search_pages_and_sorts(site: Site) -> None:
    page = site.get("/search?q=report*&sort=published")
    assert count(page) == f"{PLAIN + 2} results"  # every title but one says report
    assert link(page, "next") == "/search?q=report%2A&sort=published&page=2"
    second = site.get(link(page, "next") or "")
    assert link(second, "prev") == "/search?q=report%2A&sort=published"
    assert not set(results(page)) & set(results(second))
    assert results(site.get("/search?q=report*&sort=first-seen"))[0] == site.archive.edited


def test_earlier_versions_are_searched_when_asked(site: Site) -> None:
    now = site.get("/search?q=missile")
    assert results(now) == [site.archive.hostile]
    before = site.get("/search?q=missile&in_versions=1")
    assert set(results(before)) == {site.archive.hostile, site.archive.edited}
    assert before.count("matched in version") == 1 and "matched in version 1" in before
    assert '<input type="checkbox" name="in_versions" value="1" checked>' in before


def test_hostile_text_stays_text(site: Site) -> None:
    for path in ("/?page=4", "/search?q=missile", f"/articles/{site.archive.hostile}?q=missile"):
        page = site.get(path)
        assert "<script>" not in page and "<b>" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
    marked = site.get(f"/articles/{site.archive.hostile}?q=missile")
    assert "the &lt;b&gt;<mark>missile</mark>&lt;/b&gt; text &amp; more." in marked
    assert FAILURE not in site.get("/sources")


def test_an_empty_search_explains_the_query_language(site: Site) -> None:
    page = site.get("/search")
    assert '<form class="search' in page and "exact phrase" in page and "prefix" in page
    assert '<ol class="results">' not in page


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ('/search?q="open', "unbalanced quote"),
        ("/search?q=a+OR", "OR needs a word"),
        ("/?page=0", "page: expected a whole number"),
        ("/?sort=relevance", "sort: unknown order"),
        ("/?since=March", "since: not a date"),
        ("/articles/abc", "too short"),
    ],
)
def test_bad_requests_are_a_400_page_of_one_line(site: Site, path: str, message: str) -> None:
    page = site.get(path, 400)
    error = re.search(r'<p class="error">([^<]*)</p>', page)
    assert error and message in error.group(1) and "\n" not in error.group(1)
    assert '<form class="search"' in page


def test_unknown_articles_are_404(site: Site) -> None:
    assert "no article with id" in site.get("/articles/0123456789abcdef", 404)
    site.get("/articles/not-an-id", 404)
    site.get("/nowhere", 404)


def test_an_ambiguous_prefix_lists_the_candidates(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ambiguous(wanted: str) -> None:
        raise AmbiguousId(
            f"article id prefix {wanted!r} matches several articles", ("abcd1", "abcd2")
        )

    monkeypatch.setattr(site.repo.articles, "get", ambiguous)
    page = site.get("/articles/abcd", 400)
    assert '<a href="/articles/abcd1">' in page and '<a href="/articles/abcd2">' in page


def test_an_article_shows_its_text_urls_versions_and_timeline(site: Site) -> None:
    page = site.get(f"/articles/{site.archive.edited[:6]}")
    assert "<h1>Satellite launch report</h1>" in page
    text = page.split('<div class="article-text">', 1)[1].split("</div>", 1)[0]
    assert text.count("<p>") == 3 and "A third paragraph was added." in text
    assert re.search(
        r'<ul class="urls">\s*<li><a href="http://www\.kcna\.kp/[^"]+" rel="noopener', page
    )
    versions = page.split('<section id="versions">', 1)[1].split("</section>", 1)[0]
    assert versions.count('<div class="diff">') == 2
    assert "<del>missile</del> <ins>satellite</ins>" in versions
    assert "<ins>great </ins>" in versions
    assert "<del>Launch</del> <ins>Satellite launch</ins> report" in versions
    assert "<ins>A third paragraph was added.</ins>" in versions
    assert "<summary>Text of version 1</summary>" in versions
    assert "<p>Pyongyang, March 2 (KCNA) -- The missile launch was a success.</p>" in versions
    timeline = page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    assert re.findall(r'<span class="kind">(\w+)</span>', timeline) == ["new", "edited", "edited"]


def test_an_article_reached_from_a_search_has_its_hits_marked(site: Site) -> None:
    page = site.get(f'/articles/{site.archive.edited}?q=satellite+-missile+"great success"')
    text = page.split('<div class="article-text">', 1)[1].split("</div>", 1)[0]
    assert "The <mark>satellite</mark> launch was a <mark>great success</mark>." in text
    assert "<h1><mark>Satellite</mark> launch report</h1>" in page
    assert "<mark>" not in site.get(f"/articles/{site.archive.edited}?q=%22broken")


def test_a_gone_article_says_so(site: Site) -> None:
    page = site.get(f"/articles/{site.archive.gone}")
    assert '<span class="gone">gone since 2026-03-01 17:00 UTC</span>' in page
    assert '<span class="kind">gone</span>' in page and "HTTP 404" in page


def test_the_sources_page_reports_runs_errors_alarms_and_the_daemon(site: Site) -> None:
    site.repo.alarms.raise_alarm("kcnawatch", "failing", "3 <i>runs</i> failed", T0 + HOUR)
    page = site.get("/sources")
    assert re.search(
        r'<li class="alarm"><strong>kcnawatch</strong>: failing since [^<]*'
        r"3 &lt;i&gt;runs&lt;/i&gt; failed</li>",
        page,
    )
    assert "No daemon is running" in page and f"{TOTAL} articles stored" in page
    rows = re.findall(r'<tr class="source[^"]*">(.*?)</tr>', page, re.S)
    assert len(rows) == 2 and "kcna" in rows[0] and "kcnawatch" in rows[1]
    assert 'class="status-ok">ok<' in rows[0] and "7 pages" in rows[0]
    assert "HTTP 503 &lt;b&gt;at&lt;/b&gt; the listing" in rows[1]


def test_the_watch_page_shows_rules_without_their_secrets(site: Site) -> None:
    page = site.get("/watch")
    assert '<code class="pattern">launch</code>' in page
    kinds = re.findall(r'<span class="target">([^<]+)</span>', page)
    assert kinds == ["log", "webhook", "apprise: tgram"]
    assert "secret-hook" not in page and "SECRET" not in page and "127.0.0.1:9" not in page
    assert 'href="/feed/launches.atom"' in page
    matches = page.split('<ol class="matches', 1)[1]
    assert results('<ol class="results">' + matches.split(">", 1)[1]) == [site.archive.edited] * 3


def test_pages_answer_head_refuse_post_and_carry_the_policy(site: Site) -> None:
    paths = ("/", "/search", "/search?q=missile", f"/articles/{site.archive.edited}")
    for path in (*paths, f"/articles/{site.archive.hostile}", "/sources", "/watch"):
        response = site.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script" not in policy
        assert "<script" not in response.text and " style=" not in response.text, path
        head = site.client.head(path)
        assert head.status_code == 200 and head.content == b""
    refused = site.client.post("/", data={"q": "x"})
    assert refused.status_code == 405 and "GET" in refused.headers["allow"]


def test_a_query_on_the_archive_page_goes_to_the_search(site: Site) -> None:
    response = site.client.get("/?q=launch&source=KCNA.kp+(En)")
    assert response.status_code == 303
    assert response.headers["location"] == "/search?q=launch&source=KCNA.kp+%28En%29"
