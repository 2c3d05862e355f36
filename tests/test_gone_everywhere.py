"""Deletions on every site, end to end: an article read only on KCNA Watch (its own URL an
unread kcna.kp "original" link) that vanishes from ``/newstream/`` is gone; a stored article
whose page now shows the site's home page, a list or an error page (a redirect or a 200) is
gone, with that reason. The real command line crawls the fixture site on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from crawler.extract import extract_page
from crawler.extract.records import Listing, ListingEntry
from replica.render import kcna, kcnawatch
from replica.server import FixtureServer
from replica.site import DETAIL_LIST_PATH, KCNAWATCH, BuiltSite, build_site
from tests.test_e2e_crawl import crawl, export, totals
from tests.test_redirect_offsite import serve_answers
from tests.test_revisit import REVISIT_NOW, events

pytestmark = pytest.mark.e2e

SEED_URL = (Path(__file__).parent.parent / "replica/data/seed/url.txt").read_text().strip()
PAGE_2 = "/newstream/page/2/"


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site()
    with FixtureServer(built.site) as server:
        yield built, server


def newstream(built: BuiltSite) -> list[ListingEntry]:
    """The entries of both pages of ``/newstream/``, in order."""
    entries: list[ListingEntry] = []
    for path in ("/newstream/", PAGE_2):
        with built.site.lock:
            html = built.site.pages[path].body.decode("utf-8")
        listing = extract_page(KCNAWATCH + path, html, today=date(2026, 2, 12))
        assert isinstance(listing, Listing)
        entries += listing.entries
    return entries


def put_newstream(built: BuiltSite, first: list[ListingEntry], second: list[ListingEntry]) -> None:
    def rows(entries: list[ListingEntry]) -> list[tuple[str, str, date | None]]:
        return [(e.url.removeprefix(KCNAWATCH), e.title, e.published) for e in entries]

    built.site.put(
        "/newstream/", kcnawatch.render_kcnawatch_listing(rows(first), next_page_path=PAGE_2)
    )
    built.site.put(PAGE_2, kcnawatch.render_kcnawatch_listing(rows(second)))


def test_a_kcnawatch_only_article_removed_from_newstream_is_gone(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    # The seed page (read only on KCNA Watch, its own URL a kcna.kp link) second on the list.
    entries = newstream(built)
    seed = next(e for e in entries if e.url == SEED_URL)
    others = [e for e in entries if e is not seed]
    half = len(entries) // 2
    put_newstream(built, [others[0], seed, *others[1:half]], others[half:])
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    stored = next(r for r in export(db_url, tmp_path) if SEED_URL in r["urls"])
    assert stored["url"].startswith("http://www.kcna.kp/")  # its own URL is not KCNA Watch's
    mark = max((e.id for e in events(db_url)), default=0)

    put_newstream(built, others[:half], others[half:])
    run = crawl(server, built, db_url, tmp_path)  # a plain monitoring crawl
    assert run.returncode == 0, run.stderr
    gone = events(db_url, mark)
    assert [(e.article_id, e.kind) for e in gone] == [(stored["id"], "gone")]
    assert gone[0].detail == f"vanished from the listing {KCNAWATCH}/newstream/"


def to_home(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(302)
    handler.send_header("Location", "/")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


ERROR_PAGE = (
    "<html><head><title>KCNA | Error</title></head><body><h1>404 Page not found</h1>"
    '<p>The page you asked for does not exist.</p><a href="/">Home</a></body></html>'
)


def test_a_page_showing_the_home_page_a_list_or_an_error_is_a_soft_deletion(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    by_title = {r["title"]: r for r in export(db_url, tmp_path)}
    mark = max((e.id for e in events(db_url)), default=0)
    redirected, listed, errored = built.detail_records[-3:]
    with built.site.lock:
        home = built.site.pages[DETAIL_LIST_PATH].body.decode("utf-8")
    built.site.put("/", home)  # the home page: today's list
    serve_answers(server, {kcna.detail_path(redirected): to_home})
    built.site.put(kcna.detail_path(listed), home)
    built.site.put(kcna.detail_path(errored), ERROR_PAGE)

    run = crawl(server, built, db_url, tmp_path, *REVISIT_NOW)
    assert run.returncode == 0, run.stderr
    assert "failed 0" in totals(run.stdout)  # gone is not a failure
    gone = {e.article_id: e.detail for e in events(db_url, mark) if e.kind == "gone"}
    shows = {
        redirected["title"]: "the site's home page",
        listed["title"]: "a list of articles",
        errored["title"]: "an error page",
    }
    for title, shown in shows.items():
        article = by_title[title]
        assert gone.pop(article["id"]) == (
            f"soft deletion: the page now shows {shown}: {article['url']}"
        )
    assert gone == {}
