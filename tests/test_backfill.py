"""Backfill: walks a form-paged list back, stores each article once, and after a kill -9
resumes at the first unfinished listing page without fetching stored articles again."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from replica.render import kcna
from replica.server import FixtureServer, FixtureSite
from replica.site import BuiltSite, build_site
from storage.db import make_engine
from storage.repository import Repository
from tests.forkserver import Forked
from tests.test_e2e_crawl import FAST, ROOT, cli, totals

pytestmark = pytest.mark.e2e

PER_PAGE = 2


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site(detail_per_page=PER_PAGE)  # 12 articles on 6 list pages
    with FixtureServer(built.site) as server:
        yield built, server


def backfill_args(server: FixtureServer, built: BuiltSite, db_url: str, *extra: str) -> list[str]:
    return [
        "backfill",
        "kcna",
        "--base-url",
        server.url,
        "--start-url",
        server.url + built.detail_list_path,
        "--db",
        db_url,
        *FAST,
        "--set",
        "KCNA_MONITOR_BATCH_SIZE=1",  # every item written at once: a kill loses nothing
        *extra,
    ]


def detail_requests(site: FixtureSite) -> list[str]:
    with site.lock:
        return [path for _, path in site.requests if path.startswith("/en/article/detail/")]


def list_requests(site: FixtureSite, list_path: str) -> list[str]:
    with site.lock:
        return [f"{m} {path}" for m, path in site.requests if path.startswith(list_path)]


def stored_urls(db_url: str) -> set[str]:
    repo = Repository(make_engine(db_url))
    return {seen.url for article in repo.articles.iterate() for seen in article.urls}


def test_a_backfill_walks_every_page_once(site, tmp_path: Path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    result = cli(*backfill_args(server, built, db_url), env_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"new {len(built.detail_records)}," in totals(result.stdout)
    progress = Repository(make_engine(db_url)).crawl_state.backfill_progress("kcna")
    assert progress == {"http://www.kcna.kp" + built.detail_list_path: (6, 6)}

    again = cli(*backfill_args(server, built, db_url), env_home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "new 0, changed 0" in totals(again.stdout)


def test_pages_limits_how_far_back_it_walks(site, tmp_path: Path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    result = cli(*backfill_args(server, built, db_url, "--pages", "2"), env_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"new {2 * PER_PAGE}," in totals(result.stdout)


def test_after_kill_9_it_resumes_without_fetching_stored_articles(site, tmp_path: Path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    list_path = built.detail_list_path
    held = built.site.hold(kcna.detail_path(built.detail_records[4 * PER_PAGE]))  # page 5

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "KCNA_MONITOR_DB": ""}
    first = Forked(
        backfill_args(server, built, db_url),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert held.arrived.wait(60), "the backfill never reached page 5"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        held.released.set()
        if first.poll() is None:
            first.kill()

    repo = Repository(make_engine(db_url))
    before = stored_urls(db_url)
    [(done, _count)] = repo.crawl_state.backfill_progress("kcna").values()
    assert 3 <= done <= 4 and len(before) >= done * PER_PAGE
    with built.site.lock:
        built.site.requests.clear()

    second = cli(*backfill_args(server, built, db_url), env_home=tmp_path)
    assert second.returncode == 0, second.stderr
    refetched = {"http://www.kcna.kp" + path for path in detail_requests(built.site)} & before
    assert refetched == set(), "stored articles were fetched again"
    pages = list_requests(built.site, list_path)
    assert pages[0] == f"GET {list_path}"  # page 1 again: new articles, session and form
    assert pages[1:] == [f"POST {list_path}#page_num={n}" for n in range(done + 1, 7)]
    assert stored_urls(db_url) == {
        "http://www.kcna.kp" + kcna.detail_path(rec) for rec in built.detail_records
    } | {url for url in before if "kcnawatch" in url}
