"""What listings tell of articles the crawl does not fetch, on the rebuilt site: a known
article listed under a new title is fetched again and its new title stored; every listing
that shows an article adds its category; a page that failed keeps its listing's category
when a later run stores it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from replica.render import kcna
from replica.server import FixtureServer
from replica.site import CSRF, DETAIL_CATEGORY, KCNA, BuiltSite, build_site
from tests.test_e2e_crawl import crawl, export, totals
from tests.test_incremental import article_requests, reset_log

pytestmark = pytest.mark.e2e

TOP = "Top News"
#: Revisits of young articles off: what is fetched again is what the listings say.
NO_REVISITS = ("--set", "KCNA_MONITOR_REVISIT_DAYS=0")


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site()
    with FixtureServer(built.site) as server:
        yield built, server


def put_top_news(built: BuiltSite, records: list[dict]) -> str:
    """A second /detail/ list (Top News) showing ``records``; its path."""
    path = kcna.list_path(TOP)
    entries = [(kcna.detail_path(rec), rec["title"], rec["published"]) for rec in records]
    page = kcna.render_detail_listing(
        entries, list_url_path=path, page=1, page_count=1, csrf=CSRF, category=TOP
    )
    built.site.put(path, page)
    return path


def by_url(records: list[dict]) -> dict[str, dict]:
    return {url: r for r in records for url in r["urls"]}


def test_an_article_in_two_lists_has_both_categories_after_one_crawl(site, tmp_path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    both = built.detail_records[1:5]  # on the first and the second page of Latest News
    built.start_paths.append(put_top_news(built, both))

    run = crawl(server, built, db_url, tmp_path)
    assert run.returncode == 0, run.stderr
    stored = by_url(export(db_url, tmp_path))
    for rec in both:
        assert set(stored[KCNA + kcna.detail_path(rec)]["categories"]) == {DETAIL_CATEGORY, TOP}
    only_latest = built.detail_records[6]
    assert stored[KCNA + kcna.detail_path(only_latest)]["categories"] == [DETAIL_CATEGORY]
    fetched = Counter(article_requests(built.site))
    assert all(fetched[kcna.detail_path(rec)] == 1 for rec in both)  # no page read twice


def test_a_known_article_listed_under_a_new_title_is_fetched_again(site, tmp_path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path, *NO_REVISITS).returncode == 0
    article = built.changeable()[0]
    built.edit(article, title="Respected Comrade Renamed This Article Later")
    reset_log(built.site)

    run = crawl(server, built, db_url, tmp_path, *NO_REVISITS)
    assert run.returncode == 0, run.stderr
    assert "new 0, changed 1," in totals(run.stdout)
    # Only the retitled article's pages are read again, the unchanged entries beside it not.
    paths = {url.removeprefix(KCNA) for url in article.urls}
    assert article_requests(built.site)
    assert set(article_requests(built.site)) <= paths
    stored = by_url(export(db_url, tmp_path))[next(iter(article.urls))]
    assert stored["title"] == article.title
    assert stored["versions"] == 2

    reset_log(built.site)
    idle = crawl(server, built, db_url, tmp_path, *NO_REVISITS)  # the listing agrees now
    assert "new 0, changed 0," in totals(idle.stdout)
    assert article_requests(built.site) == []


def test_a_page_that_failed_keeps_its_listing_category_when_stored_later(
    site, tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    rec = built.detail_records[2]
    path = kcna.detail_path(rec)
    good = built.site.pages[path]
    top = put_top_news(built, [rec])
    latest = built.detail_list_path
    built.start_paths[:] = [top]  # the first run reads only Top News
    built.site.put(path, "busy", status=503)
    first = crawl(server, built, db_url, tmp_path, *NO_REVISITS)
    assert "failed 1" in totals(first.stdout)

    with built.site.lock:
        built.site.pages[path] = good
        built.site.requests.clear()
    built.start_paths[:] = [latest]  # Top News is not read again
    second = crawl(server, built, db_url, tmp_path, *NO_REVISITS)
    assert second.returncode == 0, second.stderr
    assert Counter(article_requests(built.site))[path] == 1
    stored = by_url(export(db_url, tmp_path))[KCNA + path]
    assert set(stored["categories"]) == {TOP, DETAIL_CATEGORY}
    assert stored["published"] == rec["published"]
