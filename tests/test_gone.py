"""Deletions, end to end: an article whose page answers 404, or which vanished from its
listing while older ones remain, is marked gone and stays in the archive; when it comes
back, the mark is cleared. The real command line crawls the fixture site on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from crawler.extract import extract_page
from crawler.extract.records import Listing
from replica.render import kcna, kcnawatch
from replica.server import FixtureServer
from replica.site import KCNAWATCH, BuiltSite, build_site
from tests.test_e2e_crawl import command, crawl, export, totals
from tests.test_revisit import REVISIT_NOW, events

pytestmark = pytest.mark.e2e


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site()
    with FixtureServer(built.site) as server:
        yield built, server


def by_title(db_url: str, home: Path, title: str) -> dict:
    return next(r for r in export(db_url, home) if r["title"] == title)


def test_a_deleted_article_is_marked_gone_kept_and_back_when_it_returns(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    stored = len(export(db_url, tmp_path))
    mark = max((e.id for e in events(db_url)), default=0)
    record = built.detail_records[-1]  # no KCNA Watch copy of it
    path = kcna.detail_path(record)
    page = built.site.pages[path]
    built.site.remove(path)

    deleted = crawl(server, built, db_url, tmp_path, *REVISIT_NOW)
    assert deleted.returncode == 0, deleted.stderr
    assert "failed 0" in totals(deleted.stdout)  # gone is not a failure
    exported = export(db_url, tmp_path)
    assert len(exported) == stored
    article = next(r for r in exported if r["title"] == record["title"])
    assert article["gone"] is not None
    assert [(e.article_id, e.kind) for e in events(db_url, mark)] == [(article["id"], "gone")]
    shown = command("show", article["id"], "--db", db_url, env_home=tmp_path)
    assert "gone:       since" in shown.stdout

    # Still gone: nothing more is recorded.
    assert crawl(server, built, db_url, tmp_path, *REVISIT_NOW).returncode == 0
    assert len(events(db_url, mark)) == 1

    with built.site.lock:
        built.site.pages[path] = page
    back = crawl(server, built, db_url, tmp_path, *REVISIT_NOW)
    assert back.returncode == 0, back.stderr
    assert by_title(db_url, tmp_path, record["title"])["gone"] is None
    assert [e.kind for e in events(db_url, mark)] == ["gone", "back"]


def test_an_article_vanished_from_its_listing_is_marked_gone(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    with built.site.lock:
        html = built.site.pages["/newstream/"].body.decode("utf-8")
    listing = extract_page(KCNAWATCH + "/newstream/", html, today=date(2026, 2, 12))
    assert isinstance(listing, Listing)
    stored = {u: r for r in export(db_url, tmp_path) for u in r["urls"]}
    # A KCNA Watch article of its own (not a copy) with older ones listed after it.
    entries = list(listing.entries)
    index, victim = next(
        (i, e)
        for i, e in enumerate(entries[:-1])
        if stored[e.url]["url"].startswith(KCNAWATCH) and i > 0
    )
    kept = [(e.url.removeprefix(KCNAWATCH), e.title, e.published) for e in entries if e != victim]
    built.site.put(
        "/newstream/",
        kcnawatch.render_kcnawatch_listing(kept, next_page_path="/newstream/page/2/"),
    )
    mark = max((e.id for e in events(db_url)), default=0)

    run = crawl(server, built, db_url, tmp_path)  # a plain monitoring crawl
    assert run.returncode == 0, run.stderr
    gone = events(db_url, mark)
    assert [(e.article_id, e.kind) for e in gone] == [(stored[victim.url]["id"], "gone")]
    assert gone[0].detail == f"vanished from the listing {KCNAWATCH}/newstream/"
    assert by_title(db_url, tmp_path, stored[victim.url]["title"])["gone"] is not None
    assert index > 0

    # Listed again: its page is fetched again, and it is back.
    kept.insert(index, (victim.url.removeprefix(KCNAWATCH), victim.title, victim.published))
    built.site.put(
        "/newstream/",
        kcnawatch.render_kcnawatch_listing(kept, next_page_path="/newstream/page/2/"),
    )
    again = crawl(server, built, db_url, tmp_path)
    assert again.returncode == 0, again.stderr
    assert [e.kind for e in events(db_url, mark)] == ["gone", "back"]
    assert by_title(db_url, tmp_path, stored[victim.url]["title"])["gone"] is None
