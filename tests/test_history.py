"""``kcna-monitor history``, ``recheck`` and ``export --all-versions`` through the real command
line (recheck crawls in a child process, ``python -m scheduler.cli``), against the fixture
site on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from replica.render import kcna
from replica.server import FixtureServer
from replica.site import BuiltSite, build_site
from scheduler.history import describe_history, version_diff
from storage.records import ArticleView, EventView, VersionView
from tests.test_e2e_crawl import FAST, cli, command, crawl, export
from tests.test_revisit import ARTICLE_PREFIXES, edit, reset_log

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site()
    with FixtureServer(built.site) as server:
        yield built, server


def recheck(server: FixtureServer, db_url: str, home: Path, *args: str):
    return cli("recheck", *args, "--base-url", server.url, "--db", db_url, *FAST, env_home=home)


@pytest.mark.e2e
def test_recheck_finds_an_edit_that_history_shows_as_a_diff(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    edited = edit(built)
    article = next(r for r in export(db_url, tmp_path) if r["title"] == edited["title"])
    reset_log(built.site)

    run = recheck(server, db_url, tmp_path, "--id", article["id"][:8])
    assert run.returncode == 0, run.stderr
    assert "checked 1, edited 1, gone 0, back 0, failed 0" in run.stdout
    assert f"edited {article['id']} version 2" in run.stdout
    with built.site.lock:  # a recheck fetches the articles it names, no listings
        assert [p for _, p in built.site.requests if p != "/robots.txt"] == [
            kcna.detail_path(edited)
        ]

    shown = command("history", article["id"], "--db", db_url, env_home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "2 versions" in text
    assert "  1  first seen " in text and "  2  first seen " in text
    assert "new (version 1)" in text and "edited (version 2)" in text
    assert "--- version 1 text (" in text and "+++ version 2 text (" in text
    assert "+This sentence was added later." in text
    assert "version 1 title" not in text  # the title did not change

    as_json = command("history", article["id"], "--json", "--db", db_url, env_home=tmp_path)
    data = json.loads(as_json.stdout)
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert [e["kind"] for e in data["events"]] == ["new", "edited"]
    assert data["diffs"][0]["from"] == 1 and "+This sentence" in data["diffs"][0]["diff"]

    full = command("export", "--all-versions", "--db", db_url, env_home=tmp_path)
    assert full.returncode == 0, full.stderr
    records = {r["id"]: r for r in map(json.loads, full.stdout.splitlines())}
    assert [v["version"] for v in records[article["id"]]["history"]] == [1, 2]
    assert records[article["id"]]["versions"] == 2
    plain = export(db_url, tmp_path)
    assert all("history" not in r for r in plain)


@pytest.mark.e2e
def test_recheck_by_date_notices_a_deletion(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    record = built.detail_records[-1]
    built.site.remove(kcna.detail_path(record))
    day = record["published"]
    same_day = [r for r in export(db_url, tmp_path) if r["published"] == day]
    reset_log(built.site)

    run = recheck(server, db_url, tmp_path, "kcna", "--since", day, "--until", day)
    assert run.returncode == 0, run.stderr
    assert f"checked {len(same_day)}, edited 0, gone 1, back 0" in run.stdout
    with built.site.lock:
        fetched = [p for _, p in built.site.requests if p.startswith(ARTICLE_PREFIXES)]
    assert len(fetched) == len(same_day)
    gone = next(r for r in export(db_url, tmp_path) if r["title"] == record["title"])
    assert gone["gone"] is not None

    # Nothing stored in those years: nothing is crawled (so the command can run in this process).
    nothing = command(
        "recheck", "--since", "1990-01-01", "--until", "1990-12-31", "--base-url", server.url,
        "--db", db_url, *FAST, env_home=tmp_path,
    )  # fmt: skip
    assert nothing.returncode == 0, nothing.stderr
    assert "no stored articles to recheck" in nothing.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["history", "ffff"], 1, "no article with id 'ffff'"),
        (["history", "ff"], 1, "too short"),
        (["recheck", "nosuch"], 2, "unknown source 'nosuch'"),
        (["recheck", "--id", "ffff"], 1, "no article with id 'ffff'"),
        (["recheck", "--since", "2025-02-01", "--until", "2025-01-01"], 2, "is after --until"),
        (["recheck", "--since", "spring"], 2, "not a date"),
        (["export", "--all-versions", "--format", "csv"], 2, "--all-versions needs"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, migrated_sqlite: str, args: list[str], code: int, message: str
):
    result = command(*args, "--db", migrated_sqlite, env_home=tmp_path)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if "error:" in line]) == 1


def version(number: int, title: str, text: str, hours: int) -> VersionView:
    return VersionView(number, title, text, f"{number:064x}", None, T0.replace(hour=hours))


def test_diffs_of_consecutive_versions_show_title_and_text_changes() -> None:
    one = version(1, "Old title", "Pyongyang (KCNA) -- One.\nTwo.", 1)
    two = version(2, "New title", "Pyongyang (KCNA) -- One.\nTwo.", 2)
    three = version(3, "New title", "Pyongyang (KCNA) -- One.\nThree.", 3)
    assert version_diff(one, two) == [
        "--- version 1 title (2026-03-01 01:00:00 UTC)",
        "+++ version 2 title (2026-03-01 02:00:00 UTC)",
        "@@ -1 +1 @@",
        "-Old title",
        "+New title",
    ]
    assert version_diff(two, three)[-2:] == ["-Two.", "+Three."]
    article = ArticleView(
        id="0123456789abcdef",
        url="http://www.kcna.kp/en/article/detail/1",
        urls=[],
        source="KCNA.kp (En)",
        title="New title",
        published=None,
        published_from=None,
        dateline=None,
        text=three.text,
        categories=[],
        first_seen=one.first_seen,
        last_seen=three.first_seen,
        content_hash=three.content_hash,
        versions=3,
        history=[one, two, three],
        gone_at=T0,
    )
    gone = EventView(9, article.id, "gone", None, T0, "HTTP 404: " + article.url)
    text = describe_history(article, [gone])
    assert "3 versions, gone since 2026-03-01 12:00:00 UTC" in text
    assert "gone: HTTP 404: http://www.kcna.kp/en/article/detail/1" in text
    assert text.count("--- version") == 2  # the title from 1 to 2, the text from 2 to 3
