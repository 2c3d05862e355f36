"""End to end: the real command line crawls a fixture site of all three layouts on 127.0.0.1.

The site (replica/) carries kcna.kp /q/ articles under several URLs each, /detail/
articles behind a list that pages by form POST, KCNA Watch copies of kcna.kp articles, pages
found only on KCNA Watch, and the seed page. Every distinct article must be stored once, with
the right fields and every URL it was seen at; a second crawl adds nothing; an edit on the
site gives a second version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from replica.render import kcna
from replica.server import FixtureServer
from replica.site import BuiltSite, build_site
from tests import forkserver
from tests.cli_helpers import run_main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
FAST = [
    "--set",
    "DOWNLOAD_DELAY=0",
    "--set",
    "AUTOTHROTTLE_ENABLED=false",
    "--set",
    "KCNA_MONITOR_RETRY_BACKOFF=0",
    "--set",
    "RETRY_TIMES=1",
]


def home_env(home: Path) -> dict[str, str]:
    return {"XDG_DATA_HOME": str(home), "KCNA_MONITOR_DB": ""}


def cli(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    """``kcna-monitor ARGS`` in a child process (forked by the fork server), with its data
    under ``env_home``."""
    env = {**os.environ, **home_env(env_home)}
    return forkserver.run(list(args), env=env, cwd=ROOT, timeout=120)


def command(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    """``kcna-monitor ARGS`` in this process (a command that does not crawl), likewise."""
    return run_main(*args, env=home_env(env_home))


@pytest.fixture
def built() -> BuiltSite:
    return build_site()


@pytest.fixture
def server(built: BuiltSite) -> Iterator[FixtureServer]:
    with FixtureServer(built.site) as running:
        yield running


def crawl_args(
    server: FixtureServer, built: BuiltSite, db_url: str, *extra: str, source: str | None = None
) -> list[str]:
    """The command line of a crawl of the served site (one source's start pages, or all)."""
    paths = built.start_paths_of(source) if source else built.start_paths
    starts = [arg for path in paths for arg in ("--start-url", server.url + path)]
    chosen = [source] if source else []
    base = ["--base-url", server.url, "--max-pages", "5", "--db", db_url]
    return ["crawl", *chosen, *base, *starts, *FAST, *extra]


def crawl(server: FixtureServer, built: BuiltSite, db_url: str, home: Path, *extra: str):
    return cli(*crawl_args(server, built, db_url, *extra), env_home=home)


def export(db_url: str, home: Path) -> list[dict]:
    result = command("export", "--db", db_url, env_home=home)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def totals(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("total"))


def test_every_article_is_stored_once_and_recrawls_add_nothing(
    server: FixtureServer, built: BuiltSite, db_url: str, tmp_path: Path
) -> None:
    first = crawl(server, built, db_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert f"new {len(built.articles)}," in totals(first.stdout)
    assert "failed 0" in totals(first.stdout)

    records = export(db_url, tmp_path)
    assert len(records) == len(built.articles)
    assert len({r["id"] for r in records}) == len(records)
    by_key = {(r["title"], r["published"]): r for r in records}
    for article in built.articles:
        stored = by_key[(article.title, article.published)]
        assert stored["text"] == article.text
        assert stored["source"] == "KCNA.kp (En)"
        seen = {u for u in article.urls if u in stored["urls"] or u == stored["url"]}
        assert seen == article.urls, f"{article.title}: URLs missing"
        assert set(article.categories) <= set(stored["categories"])
        assert stored["versions"] == 1
    # One article under several kcna.kp URLs and a KCNA Watch copy: one record, all URLs.
    multi = max(built.articles, key=lambda a: len(a.urls))
    assert len(by_key[(multi.title, multi.published)]["urls"]) == len(multi.urls) >= 3

    second = crawl(server, built, db_url, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "new 0, changed 0" in totals(second.stdout)
    assert len(export(db_url, tmp_path)) == len(built.articles)


def test_an_edit_on_the_site_is_stored_as_a_second_version(
    server: FixtureServer, built: BuiltSite, db_url: str, tmp_path: Path
) -> None:
    assert crawl(server, built, db_url, tmp_path).returncode == 0
    edited = dict(built.detail_records[0])
    edited["text"] = edited["text"].replace("\n", "\nThis sentence was added later.\n", 1)
    built.site.put(kcna.detail_path(edited), kcna.render_detail_article(edited))

    # Stored pages are not fetched again by a monitoring crawl; a full one finds the edit.
    again = crawl(server, built, db_url, tmp_path, "--refetch")
    assert again.returncode == 0, again.stderr
    assert "new 0, changed 1" in totals(again.stdout)

    records = export(db_url, tmp_path)
    assert len(records) == len(built.articles)
    record = next(r for r in records if r["title"] == edited["title"])
    assert record["versions"] == 2
    assert "This sentence was added later." in record["text"]
    shown = command("show", record["id"], "--db", db_url, env_home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "versions (2):" in shown.stdout


def test_broken_pages_are_recorded_as_failures_and_the_crawl_goes_on(
    server: FixtureServer, built: BuiltSite, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    broken = built.q_articles[0]
    path = broken["url"].removeprefix("http://www.kcna.kp")
    built.site.put(path, "<html><head><title>KCNA | Article | x</title></head><body><div cl")
    built.site.put(kcna.detail_path(built.detail_records[-1]), "server error", status=500)

    result = crawl(server, built, db_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("kcna "))
    assert "failed    2" in line
    stored = export(db_url, tmp_path)
    assert (
        len(stored) == len(built.articles) - 1
    )  # the 500 page (no copy); the broken /q/ URL has twins


def test_nothing_fetched_exits_1_with_one_line(tmp_path: Path) -> None:
    result = cli(
        "crawl",
        "kcna",
        "--base-url",
        "http://127.0.0.1:9",
        "--db",
        f"sqlite:///{tmp_path / 'a.db'}",
        *FAST,
        env_home=tmp_path,
    )
    assert result.returncode == 1
    assert "nothing could be fetched" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["crawl", "nosuch"], 2, "unknown source 'nosuch'"),
        (["crawl", "--start-url", "not-a-url"], 2, "--start-url: not an http(s) URL"),
        (["crawl", "--base-url", "ftp://x"], 2, "--base-url: not an http(s) URL"),
        (["crawl", "--max-pages", "0"], 2, "must be at least 1"),
        (["crawl", "--set", "NOVALUE"], 2, "--set takes NAME=VALUE"),
        (["crawl", "kcna", "--db", "nosuchdb://x"], 1, "nosuchdb"),
        (["export", "--since", "yesterday"], 2, "not a date"),
        (["show", "ffff"], 1, "no article with id 'ffff'"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, migrated_sqlite: str, args: list[str], code: int, message: str
):
    if "--db" not in args:
        args = [*args, "--db", migrated_sqlite]
    result = command(*args, env_home=tmp_path)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    # One line says what is wrong (argparse prints its usage above it).
    assert len([line for line in result.stderr.splitlines() if "error:" in line]) == 1


def test_scrapy_crawl_works_from_the_repository_root(
    server: FixtureServer, built: BuiltSite, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'scrapy.db'}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "kcnawatch",
            "-a",
            f"base_url={server.url}",
            "-a",
            f"start_url={server.url}/newstream/",
            "-s",
            f"KCNA_MONITOR_DB={db_url}",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=false",
            "-s",
            "LOG_LEVEL=WARNING",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    stored = export(db_url, tmp_path)
    watch_urls = {u for a in built.articles for u in a.urls if "kcnawatch.org" in u}
    assert {u for r in stored for u in r["urls"] if "kcnawatch.org" in u} == watch_urls
