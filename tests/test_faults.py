"""Faults that must never cost an article: a crawl stopped or killed at any moment, a hanging
page, a full disk, a backfill that meets the end of its list. Each test crawls a rebuilt site
on 127.0.0.1 through the real command line and compares the archive with the one an
undisturbed crawl of the same site builds."""

from __future__ import annotations

import contextlib
import os
import random
import re
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from replica.server import FixtureServer, FixtureSite, Page
from replica.site import BuiltSite, build_site
from storage.db import make_engine
from storage.repository import Repository
from tests.forkserver import Forked
from tests.test_e2e_crawl import FAST, ROOT, cli, crawl_args, totals

pytestmark = pytest.mark.e2e

#: Kills per fault test, as the issue asks: twenty random moments.
KILLS = 20
SEED = 20261206


# -- the site and the crawls ---------------------------------------------------------------


class KillSwitch:
    """Kills a process with SIGKILL when the site receives its ``at``-th request."""

    def __init__(self, site: FixtureSite) -> None:
        self._answer = site.answer
        self._lock = threading.Lock()
        self._count = 0
        self._at: int | None = None
        self.pid: int | None = None
        self.fired = False
        site.answer = self._counting  # type: ignore[method-assign]

    def arm(self, at: int | None, pid: int | None = None) -> None:
        with self._lock:
            self._count, self._at, self.pid, self.fired = 0, at, pid, False

    def _counting(self, method: str, path: str, form: Mapping[str, str], cookie: bool) -> Page:
        with self._lock:
            self._count += 1
            if self._at is not None and self._count == self._at and self.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.fired = True
        return self._answer(method, path, form, cookie)

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, "XDG_DATA_HOME": str(home), "KCNA_MONITOR_DB": ""}


def backfill_args(server: FixtureServer, built: BuiltSite, db_url: str, *extra: str) -> list[str]:
    start = server.url + built.detail_list_path
    return ["backfill", "kcna", "--base-url", server.url, "--start-url", start, "--db", db_url]


def start(args: list[str], home: Path, output: int = subprocess.DEVNULL) -> Forked:
    """Start ``kcna-monitor ARGS`` with its data under ``home``, output to ``output``."""
    return Forked(
        args, cwd=ROOT, env=env_for(home), stdin=subprocess.DEVNULL, stdout=output, stderr=output
    )


def run_killed(args: list[str], home: Path, switch: KillSwitch, at: int) -> bool:
    """Run the command, killed with SIGKILL at the site's ``at``-th request; True if it was."""
    process = start(args, home)
    switch.arm(at, process.pid)
    try:
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        switch.arm(None)
    return process.returncode == -signal.SIGKILL


def archive(db_url: str) -> dict[str, Any]:
    """What an archive holds, comparable across archives: per title its date and URLs; how
    many articles share a title; the statuses of its runs."""
    repo = Repository(make_engine(db_url))
    articles = list(repo.articles.iterate())
    return {
        "articles": {
            (a.title, a.published): (sorted(u.url for u in a.urls), sorted(a.categories))
            for a in articles
        },
        "twice": sorted(
            k for k, n in Counter((a.title, a.published) for a in articles).items() if n > 1
        ),
        "running": [r.id for r in repo.runs.recent(limit=1000) if r.status == "running"],
    }


def assert_same_archive(db_url: str, reference: dict[str, Any]) -> None:
    got = archive(db_url)
    assert got["twice"] == [], "an article was stored twice"
    missing = set(reference["articles"]) - set(got["articles"])
    assert missing == set(), f"{len(missing)} articles missing: {sorted(missing)[:3]}"
    assert got["articles"] == reference["articles"]
    assert got["running"] == [], "a run was left running"


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site(detail_per_page=2, empty_past_end=True)  # /detail/: 12 on 6 pages
    with FixtureServer(built.site) as server:
        yield built, server


def reference_of(args: list[str], home: Path) -> dict[str, Any]:
    result = cli(*args, env_home=home)
    assert result.returncode == 0, result.stderr
    return archive(args[args.index("--db") + 1])


# -- stopping ------------------------------------------------------------------------------


def read_until(process: Forked, done: Callable[[str], bool], limit: float = 60.0) -> list[str]:
    """Read the process's stderr lines until ``done(line)``; fails after ``limit`` seconds."""
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + limit
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"gave up waiting after {len(lines)} lines"
            if not selector.select(left):
                continue
            line = process.stderr.readline()
            assert line, "the crawl ended early:\n" + "\n".join(lines[-20:])[-3000:]
            lines.append(line.rstrip("\n"))
            if done(line):
                return lines


SCRAPED = re.compile(r"^ArticleItem\(record=ArticleRecord\(url='([^']+)'", re.MULTILINE)


def parsed_reference(
    server: FixtureServer, built: BuiltSite, home: Path
) -> tuple[dict[str, Any], int]:
    """The archive of an undisturbed crawl (first listing pages only) and how many articles
    it parsed."""
    reference_args = crawl_args(server, built, f"sqlite:///{home / 'ref.db'}")
    result = cli(*reference_args, "--max-pages", "1", "--log-level", "DEBUG", env_home=home)
    assert result.returncode == 0, result.stderr
    reference = archive(reference_args[reference_args.index("--db") + 1])
    return reference, len(SCRAPED.findall(result.stderr))


def output_around_a_stop(
    process: Forked, stop: signal.Signals, ready: Callable[[str], bool]
) -> tuple[list[str], str]:
    """The stderr lines until ``ready``, then what the process writes after ``stop``; fails
    when the stop waits (for the hanging download, say)."""
    before = read_until(process, ready)
    process.send_signal(stop)
    try:
        _, after = process.communicate(timeout=30)  # not DOWNLOAD_TIMEOUT (60 s)
    except subprocess.TimeoutExpired:
        process.kill()
        _, after = process.communicate()
        noise = [line[:200] for line in after.splitlines() if "ArticleItem" not in line]
        raise AssertionError("the stop waited: " + "\n".join(noise)[-4000:]) from None
    return before, after


def assert_everything_parsed_is_stored(
    db_url: str, before: list[str], after: str, items: int, hung: str
) -> None:
    """Every article the stopped crawl parsed is stored, and its run is interrupted."""
    scraped = set(SCRAPED.findall("\n".join(before) + "\n" + after))
    assert len(scraped) >= items * 3 // 4
    stored = {url for urls, _ in archive(db_url)["articles"].values() for url in urls}
    assert scraped - stored == set(), "parsed articles were not stored: " + "\n".join(
        line[:300] for line in after.splitlines() if " WARNING " in line or " ERROR " in line
    )
    assert hung not in stored
    runs = Repository(make_engine(db_url)).runs.recent(limit=5)
    statuses = {r.source: r.status for r in runs}
    assert statuses["kcna"] == "interrupted"  # the one with the hanging page
    assert set(statuses.values()) <= {"interrupted", "ok"}  # KCNA Watch may have finished
    assert sum(r.new for r in runs) == len(archive(db_url)["articles"])


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_crawl_stores_everything_it_parsed(site, tmp_path: Path, stop) -> None:
    """One article page hangs; the crawl is stopped once it has parsed most of the others:
    every article it parsed is stored, the run is recorded as interrupted with its counts,
    and the stop does not wait for the hanging download."""
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    reference, items = parsed_reference(server, built, tmp_path)
    # An article found at one URL only: its page hangs.
    hung = next(urls[0] for urls, _ in reference["articles"].values() if len(urls) == 1)
    held = built.site.hold(_path(hung))
    args = [
        *crawl_args(server, built, db_url),
        "--max-pages",
        "1",
        "--log-level",
        "DEBUG",
        "--set",
        "KCNA_MONITOR_BATCH_SIZE=1000",  # nothing written by a full batch
        "--set",
        "KCNA_MONITOR_FLUSH_SECONDS=3600",  # nor by the timer: only the stop writes
    ]
    process = start(args, tmp_path, output=subprocess.PIPE)
    parsed = 0

    def enough(line: str) -> bool:
        nonlocal parsed
        parsed += bool(SCRAPED.match(line))
        return parsed >= items * 3 // 4 and held.arrived.is_set()

    try:
        before, after = output_around_a_stop(process, stop, enough)
    finally:
        held.released.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, after[-2000:]
    assert "error: interrupted: what was fetched until then is stored" in after
    assert_everything_parsed_is_stored(db_url, before, after, items, hung)


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


# -- kill -9 at any moment -----------------------------------------------------------------


def kill_trials(
    args_of: Callable[[str], list[str]], home: Path, switch: KillSwitch, rng: random.Random
) -> tuple[int, int]:
    """Kill the command at ``KILLS`` random moments, in chains of five on one archive each
    followed by an undisturbed run; compare each archive with the reference. Returns the
    number of kills that landed and the number of chains."""
    reference_db = f"sqlite:///{home / 'reference.db'}"
    switch.arm(None)
    reference = reference_of(args_of(reference_db), home)
    requests = switch.count
    landed = chains = 0
    for chain in range(KILLS // 5):
        db_url = f"sqlite:///{home / f'chain{chain}.db'}"
        batch = rng.choice(["1", "3", "10", "50"])
        for _ in range(5):
            at = rng.randint(1, requests)
            landed += run_killed([*args_of(db_url), "--set", f"KCNA_MONITOR_BATCH_SIZE={batch}"],
                                 home, switch, at)  # fmt: skip
        result = cli(*args_of(db_url), env_home=home)
        assert result.returncode == 0, result.stderr
        assert_same_archive(db_url, reference)
        chains += 1
    return landed, chains


def test_kill_9_at_random_moments_of_a_crawl_loses_nothing(site, tmp_path: Path) -> None:
    built, server = site
    switch = KillSwitch(built.site)
    rng = random.Random(SEED)
    landed, chains = kill_trials(
        lambda db: crawl_args(server, built, db, "--max-pages", "3"), tmp_path, switch, rng
    )
    assert chains == KILLS // 5
    assert landed >= KILLS // 2  # most kills came mid-crawl (a late one may find it done)


def test_kill_9_at_random_moments_of_a_backfill_loses_nothing(site, tmp_path: Path) -> None:
    built, server = site
    switch = KillSwitch(built.site)
    rng = random.Random(SEED + 1)
    landed, chains = kill_trials(
        lambda db: [*backfill_args(server, built, db), *FAST], tmp_path, switch, rng
    )
    assert chains == KILLS // 5
    assert landed >= KILLS // 2


# -- backfill ends -------------------------------------------------------------------------


def test_a_backfill_without_pages_ends_at_the_end_of_the_list(site, tmp_path: Path) -> None:
    """Past its last page the list answers an empty page that says it is page 1: the
    backfill stops there, having asked for each page once."""
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    result = cli(*backfill_args(server, built, db_url), *FAST, env_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"new {len(built.detail_records)}," in totals(result.stdout)
    with built.site.lock:
        pages = Counter(p for m, p in built.site.requests if m == "POST")
    assert max(pages.values()) == 1, pages
    assert len(pages) <= 6  # pages 2..6, and at most one past the end

    # Resumed with every page done: it reads page 1 and stops.
    with built.site.lock:
        built.site.requests.clear()
    again = cli(*backfill_args(server, built, db_url), *FAST, env_home=tmp_path)
    assert again.returncode == 0, again.stderr
    with built.site.lock:
        assert [p for m, p in built.site.requests if m == "POST"] == []


def test_a_backfill_stops_at_a_repeated_page(tmp_path: Path) -> None:
    """A list that answers its first page again for any page asked (entries and all)."""
    built = build_site(detail_per_page=2)
    first = built.site.pages[built.detail_list_path]
    built.site.posts[built.detail_list_path] = lambda form, cookie: first
    with FixtureServer(built.site) as server:
        db_url = f"sqlite:///{tmp_path / 'archive.db'}"
        result = cli(*backfill_args(server, built, db_url), *FAST, env_home=tmp_path)
    assert result.returncode == 0, result.stderr
    with built.site.lock:
        posts = [p for m, p in built.site.requests if m == "POST"]
    assert posts == [f"{built.detail_list_path}#page_num=2"]


# -- a full disk ---------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size: int) -> Iterator[Callable[[int], None]]:
    """A tmpfs of ``size`` bytes at ``path``; yields a function that resizes it."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'not permitted'}")

    def resize(new_size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={new_size}", str(path)], check=True)

    try:
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount command")
def test_a_full_disk_fails_the_run_and_the_next_run_fetches_what_is_missing(
    site, tmp_path: Path
) -> None:
    built, server = site
    reference_db = f"sqlite:///{tmp_path / 'ref.db'}"
    reference = reference_of(crawl_args(server, built, reference_db), tmp_path)
    disk = tmp_path / "disk"
    with small_disk(disk, 64 * 1024 * 1024) as resize:
        db_url = f"sqlite:///{disk / 'archive.db'}"
        # An archive with its schema and no article, then a disk that fills up at once.
        empty = cli("crawl", "--start-url", server.url + "/nowhere/", "--base-url", server.url,
                    "--db", db_url, *FAST, env_home=disk)  # fmt: skip
        assert "Traceback" not in empty.stderr
        used = sum(f.stat().st_size for f in disk.rglob("*") if f.is_file())
        resize(used + 96 * 1024)
        full = cli(*crawl_args(server, built, db_url), env_home=disk)
        assert full.returncode == 1, full.stdout + full.stderr
        last = full.stderr.strip().splitlines()[-1]
        assert last.startswith("kcna-monitor: error:") and "full" in last, last
        assert "Traceback" not in full.stderr

        resize(256 * 1024 * 1024)
        again = cli(*crawl_args(server, built, db_url), env_home=disk)
        assert again.returncode == 0, again.stderr
        got = archive(db_url)
        assert got["twice"] == []
        assert got["articles"] == reference["articles"]
