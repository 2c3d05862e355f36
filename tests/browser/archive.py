"""The archive the browser tests read: a small rebuilt site crawled by the real command line.

Three of its kcna.kp ``/detail/`` articles are made for the tests before the first crawl: one
whose last sentence is edited before the second crawl (two versions, a few words changed),
one taken down before it (gone), and one whose text carries markup as text (hostile input
that must stay inert). The first crawl stores everything; the second, revisiting every
article, records the edit and the deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replica.corpus import group_articles, load_records
from replica.qpart import stamp_style
from replica.render import kcna, kcnawatch
from replica.server import FixtureServer
from replica.site import KCNAWATCH, BuiltSite, build_site
from tests.test_e2e_crawl import crawl, export, totals
from tests.test_revisit import REVISIT_NOW

#: The edited article's last sentence, before and after the edit: "cattle" is deleted,
#: "modern fish" inserted.
BEFORE = "The delegation toured a cattle farm in the county."
AFTER = "The delegation toured a modern fish farm in the county."
DELETED_WORDS = ("cattle",)
INSERTED_WORDS = ("modern", "fish")
#: Markup in an article's text: shown as text, never run.
HOSTILE = (
    "Hostile markup test: <script>window.__pwned = 1</script> and"
    ' <img src=x onerror="window.__pwned=2"> written as text.'
)
#: Groups of the corpus the site is made of: small, so two crawls take a few seconds.
GROUPS = 14
Q_COUNT, DETAIL_COUNT = 6, 4
#: The source of the articles found only on KCNA Watch (the others are from kcna.kp).
OTHER_SOURCE = "Rodong Sinmun"


@dataclass(frozen=True)
class Archive:
    """A crawled archive and what the tests know about it."""

    db_url: str
    ids: dict[str, str]  # title -> article id
    edited_title: str
    gone_title: str
    hostile_title: str
    sources: dict[str, int]  # source -> its number of articles

    def path_of(self, title: str) -> str:
        """The path of the article page of the article titled ``title``."""
        return f"/articles/{self.ids[title]}"


def small_site() -> BuiltSite:
    """The rebuilt site, of :data:`GROUPS` articles and the seed page; the articles found
    only on KCNA Watch say they come from :data:`OTHER_SOURCE`."""
    groups = sorted(group_articles(load_records()), key=lambda g: -len(g))[:GROUPS]
    records = [record for group in groups for record in group]
    built = build_site(records, q_count=Q_COUNT, detail_count=DETAIL_COUNT, copies_of_q=2,
                       copies_of_detail=0)  # fmt: skip
    for group in groups[Q_COUNT + DETAIL_COUNT :]:  # the part of build_site's share found
        record = group[0]  # only on KCNA Watch
        path = kcnawatch.kcnawatch_path(record)
        page = kcnawatch.render_kcnawatch_article(
            record,
            page_url=KCNAWATCH + path,
            original_url=None,
            source=OTHER_SOURCE,
            stamp=stamp_style(record["published"]),
        )
        built.site.put(path, page)
    return built


def _put_detail(built: BuiltSite, record: dict[str, Any], text: str) -> None:
    """Change a /detail/ article's text on the site (its path and listing entry stay)."""
    record["text"] = text
    built.site.put(kcna.detail_path(record), kcna.render_detail_article(record))


def _before_last(text: str, paragraph: str) -> str:
    """``text`` with ``paragraph`` added before its last one (which ends with -0-)."""
    lines = text.split("\n")
    return "\n".join([*lines[:-1], paragraph, lines[-1]])


def build_archive(home: Path) -> Archive:
    """Crawl the small site twice into ``home/archive.db``, editing and deleting between."""
    db_url = f"sqlite:///{home / 'archive.db'}"
    built = small_site()
    edited, hostile, _, gone = built.detail_records
    _put_detail(built, edited, _before_last(edited["text"], BEFORE))
    _put_detail(built, hostile, _before_last(hostile["text"], HOSTILE))
    with FixtureServer(built.site) as server:
        _crawl(server, built, db_url, home, "new")
        _put_detail(built, edited, edited["text"].replace(BEFORE, AFTER))
        built.site.remove(kcna.detail_path(gone))
        _crawl(server, built, db_url, home, "changed 1", *REVISIT_NOW)
    records = export(db_url, home)
    by_title = {record["title"]: record for record in records}
    assert by_title[edited["title"]]["versions"] == 2, "the edit was not recorded"
    assert by_title[gone["title"]]["gone"], "the deletion was not recorded"
    sources: dict[str, int] = {}
    for record in records:
        sources[record["source"]] = sources.get(record["source"], 0) + 1
    return Archive(
        db_url=db_url,
        ids={title: record["id"] for title, record in by_title.items()},
        edited_title=edited["title"],
        gone_title=gone["title"],
        hostile_title=hostile["title"],
        sources=sources,
    )


def _crawl(
    server: FixtureServer, built: BuiltSite, db_url: str, home: Path, expect: str, *extra: str
) -> None:
    result = crawl(server, built, db_url, home, *extra)
    assert result.returncode == 0, result.stderr
    assert expect in totals(result.stdout), result.stdout
