"""Incremental crawling, counted at the server: a run with nothing new fetches only its start
listings (and they answer 304), a run with k new articles fetches exactly those k."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from replica.corpus import group_articles, load_records
from replica.render import kcna, kcnawatch
from replica.server import FixtureServer, FixtureSite
from replica.site import BuiltSite, build_site
from tests.test_e2e_crawl import crawl, export, totals

pytestmark = pytest.mark.e2e

ARTICLE_PREFIXES = ("/en/article/q/", "/en/article/detail/", "/newstream/1")


def article_requests(site: FixtureSite) -> list[str]:
    with site.lock:
        return [path for _, path in site.requests if path.startswith(ARTICLE_PREFIXES)]


def listing_requests(site: FixtureSite) -> list[str]:
    with site.lock:
        return [
            path
            for _, path in site.requests
            if path != "/robots.txt" and not path.startswith(ARTICLE_PREFIXES)
        ]


def reset_log(site: FixtureSite) -> None:
    with site.lock:
        site.requests.clear()


def split_last(count: int) -> tuple[list[dict], list[dict]]:
    """The sample corpus less its last ``count`` articles, and those articles."""
    groups = sorted(group_articles(load_records()), key=lambda g: -len(g))  # as build_site
    kept = [rec for group in groups[:-count] for rec in group]
    return kept, [group[0] for group in groups[-count:]]


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site(split_last(2)[0])
    with FixtureServer(built.site) as server:
        yield built, server


def test_a_run_with_nothing_new_fetches_only_the_start_listings(site, tmp_path: Path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    reset_log(built.site)

    idle = crawl(server, built, db_url, tmp_path)
    assert idle.returncode == 0, idle.stderr
    assert "new 0, changed 0, unchanged 0" in totals(idle.stdout)
    assert article_requests(built.site) == []
    assert sorted(listing_requests(built.site)) == sorted(built.start_paths)


def test_a_run_with_k_new_articles_fetches_exactly_those(site, tmp_path: Path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    before = {r["id"] for r in export(db_url, tmp_path)}

    kept, fresh = split_last(2)
    full = build_site(kept, latest=fresh)  # the same site, two more articles on KCNA Watch
    with built.site.lock:
        built.site.pages = full.site.pages
        built.site.posts = full.site.posts
        built.site.requests.clear()
    run = crawl(server, built, db_url, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "new 2, changed 0, unchanged 0" in totals(run.stdout)
    new_pages = {kcnawatch.kcnawatch_path(rec) for rec in fresh}
    assert sorted(article_requests(built.site)) == sorted(new_pages)
    after = export(db_url, tmp_path)
    assert len(after) == len(before) + 2


def test_a_full_refetch_can_be_asked_for(site, tmp_path: Path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    reset_log(built.site)
    again = crawl(server, built, db_url, tmp_path, "--refetch")
    assert again.returncode == 0, again.stderr
    assert "new 0, changed 0" in totals(again.stdout)
    assert len(article_requests(built.site)) >= len(built.articles)


def test_an_article_that_failed_is_fetched_again_by_the_next_run(site, tmp_path: Path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    missing = kcna.detail_path(built.detail_records[-1])  # no KCNA Watch copy of it
    good = built.site.pages[missing]
    built.site.put(missing, "temporarily broken", status=500)
    first = crawl(server, built, db_url, tmp_path)
    assert "failed 1" in totals(first.stdout)
    stored = len(export(db_url, tmp_path))

    with built.site.lock:
        built.site.pages[missing] = good
        built.site.requests.clear()
    second = crawl(server, built, db_url, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "new 1, changed 0" in totals(second.stdout)
    assert article_requests(built.site) == [missing]
    assert len(export(db_url, tmp_path)) == stored + 1
