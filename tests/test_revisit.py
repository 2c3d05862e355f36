"""Revisits, end to end: the real command line crawls the fixture site, the site edits and
deletes articles, and revisiting crawls notice it.

The fixture articles were published in 2024, so the tests widen the revisit window
(``KCNA_MONITOR_REVISIT_DAYS``) to take them in, and set the interval
(``KCNA_MONITOR_REVISIT_EVERY``) to 0 hours where a revisit must happen right away: no
clock has to move.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from replica.render import kcna
from replica.server import FixtureServer, FixtureSite
from replica.site import BuiltSite, build_site
from storage.db import make_engine
from storage.records import EventView
from storage.repository import Repository
from tests.test_e2e_crawl import crawl, export, totals

pytestmark = pytest.mark.e2e

#: Every stored article is young; each crawl revisits them all.
REVISIT_NOW = ("--set", "KCNA_MONITOR_REVISIT_DAYS=100000", "--set", "KCNA_MONITOR_REVISIT_EVERY=0")
#: Every stored article is young; once a day.
REVISIT_DAILY = ("--set", "KCNA_MONITOR_REVISIT_DAYS=100000")
ARTICLE_PREFIXES = ("/en/article/q/", "/en/article/detail/", "/newstream/1")


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site()
    with FixtureServer(built.site) as server:
        yield built, server


def article_requests(site: FixtureSite) -> list[str]:
    with site.lock:
        return [path for _, path in site.requests if path.startswith(ARTICLE_PREFIXES)]


def reset_log(site: FixtureSite) -> None:
    with site.lock:
        site.requests.clear()


def events(db_url: str, after: int = 0) -> list[EventView]:
    engine = make_engine(db_url)
    try:
        return Repository(engine).articles.events_after(after, limit=10_000)
    finally:
        engine.dispose()


def edit(built: BuiltSite, index: int = 0) -> dict:
    edited = dict(built.detail_records[index])
    edited["text"] = edited["text"].replace("\n", "\nThis sentence was added later.\n", 1)
    built.site.put(kcna.detail_path(edited), kcna.render_detail_article(edited))
    return edited


def test_an_edited_article_gives_exactly_one_new_version_and_one_event(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    mark = max((e.id for e in events(db_url)), default=0)
    edited = edit(built)

    first = crawl(server, built, db_url, tmp_path, *REVISIT_NOW)
    assert first.returncode == 0, first.stderr
    assert "changed 1," in totals(first.stdout)
    # Revisits are conditional: the unchanged pages answer 304 and give no article at all.
    assert "unchanged 0," in totals(first.stdout)

    reset_log(built.site)
    again = crawl(server, built, db_url, tmp_path, *REVISIT_NOW)
    assert again.returncode == 0, again.stderr
    assert "new 0, changed 0, unchanged 0" in totals(again.stdout)
    assert article_requests(built.site)  # revisited, all answered "not modified"

    record = next(r for r in export(db_url, tmp_path) if r["title"] == edited["title"])
    assert record["versions"] == 2
    assert "This sentence was added later." in record["text"]
    assert record["gone"] is None
    found = [(e.article_id, e.kind, e.version) for e in events(db_url, mark)]
    assert found == [(record["id"], "edited", 2)]


def test_revisits_happen_once_per_interval(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    edit(built)
    reset_log(built.site)
    # Young, but first seen moments ago: not due before a day has passed.
    later = crawl(server, built, db_url, tmp_path, *REVISIT_DAILY)
    assert later.returncode == 0, later.stderr
    assert "new 0, changed 0" in totals(later.stdout)
    assert article_requests(built.site) == []


def test_revisits_can_be_turned_off(site: tuple[BuiltSite, FixtureServer], tmp_path: Path) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    edit(built)
    reset_log(built.site)
    off = crawl(
        server,
        built,
        db_url,
        tmp_path,
        "--set",
        "KCNA_MONITOR_REVISIT_DAYS=0",
        "--set",
        "KCNA_MONITOR_REVISIT_EVERY=0",
    )
    assert off.returncode == 0, off.stderr
    assert "changed 0" in totals(off.stdout)
    assert article_requests(built.site) == []
