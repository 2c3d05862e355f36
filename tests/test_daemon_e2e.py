"""End to end: the real daemon process (``python -m scheduler.cli run``) against the fixture
site on 127.0.0.1, on a one-second interval.

Nothing sleeps: the tests wait for the daemon's log lines on its stderr pipe with select()
and deadlines, and block fixture pages with events they release themselves.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from replica.server import FixtureServer, FixtureSite, Page
from replica.site import BuiltSite, build_site
from storage.db import make_engine
from storage.repository import Repository
from tests import forkserver
from tests.cli_helpers import run_main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
LOCAL = """
[sources.{name}.settings]
AUTOTHROTTLE_ENABLED = false
KCNA_MONITOR_RETRY_BACKOFF = 0
RETRY_TIMES = 0
KCNA_MONITOR_MAX_PAGES = 5
"""


def source_toml(
    name: str,
    server: FixtureServer,
    built: BuiltSite,
    *,
    every: str = "1s",
    timeout: str = "30s",
    extra: str = "",
) -> str:
    starts = ", ".join(f'"{server.url}{p}"' for p in built.start_paths_of(name))
    return (
        f'[sources.{name}]\nbase_url = "{server.url}"\nstart_urls = [{starts}]\n'
        f'every = "{every}"\ntimeout = "{timeout}"\ndelay = "0s"\nconcurrency = 4\n'
        f'jitter = "0s"\n{extra}' + LOCAL.format(name=name)
    )


def write_config(tmp_path: Path, db_url: str, *sources: str, stop_grace: str = "5s") -> Path:
    names = {"kcna", "kcnawatch"}
    used = {re.match(r"\[sources\.(\w+)\]", s).group(1) for s in sources}  # type: ignore[union-attr]
    disabled = "".join(f"[sources.{n}]\nenabled = false\n" for n in sorted(names - used))
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[daemon]\nstop_grace = "{stop_grace}"\n'
        + "\n".join(sources)
        + disabled,
        encoding="utf-8",
    )
    return path


def home_env(home: Path) -> dict[str, str]:
    return {
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "KCNA_MONITOR_DB": "",
        "KCNA_MONITOR_CONFIG": "",
    }


class Daemon:
    """A daemon process and its stderr, read line by line with deadlines."""

    def __init__(self, config: Path, home: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, **home_env(home)},
        )
        self.lines: list[str] = []
        self._buffer = b""
        self._seen = 0

    def _read(self, until: float) -> bool:
        """Read what is there (waiting at most until ``until``); False at end of stream."""
        stream = self.process.stderr
        assert stream is not None
        ready, _, _ = select.select([stream], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            return True
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            return False
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        self.lines.extend(line.decode("utf-8", "replace") for line in complete)
        return True

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The next log line (after the last one matched) matching ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self._seen < len(self.lines):
                line = self.lines[self._seen]
                self._seen += 1
                match = regex.search(line)
                if match:
                    return match
            if time.monotonic() >= deadline:
                break
            if not self._read(deadline):
                break
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        self.process.send_signal(sig)
        deadline = time.monotonic() + timeout
        while self._read(deadline) and time.monotonic() < deadline:
            pass
        return self.process.wait(timeout=max(0.1, deadline - time.monotonic()))

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.kill()


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kcna-monitor ARGS`` in a child process (forked by the fork server), with its files
    under ``home``."""
    return forkserver.run(list(args), env={**os.environ, **home_env(home)}, cwd=ROOT, timeout=120)


def command(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kcna-monitor ARGS`` in this process (a command that does not crawl), likewise."""
    return run_main(*args, env=home_env(home))


def repository(db_url: str) -> Repository:
    return Repository(make_engine(db_url))


class Gate:
    """Make one path of the site block until released (or until the test ends)."""

    def __init__(self, site: FixtureSite, path: str) -> None:
        self.opened = threading.Event()
        self.reached = threading.Event()
        original = site.answer

        def answer(method: str, asked: str, form: Mapping[str, str], cookie: bool) -> Page:
            if asked == path and not self.opened.is_set():
                self.reached.set()
                self.opened.wait(60)
            return original(method, asked, form, cookie)

        site.answer = answer  # type: ignore[method-assign]


@pytest.fixture
def built() -> BuiltSite:
    return build_site(hold_back=2)


@pytest.fixture
def server(built: BuiltSite) -> Iterator[FixtureServer]:
    with FixtureServer(built.site) as running:
        yield running


OK_LINE = r"kcna run \d+: ok in [\d.]+s — pages (\d+), new (\d+), changed (\d+), unchanged (\d+)"


def assert_a_second_daemon_is_refused(home: Path, config: Path, daemon: Daemon) -> None:
    """A second daemon on the same database is refused, in one line."""
    second = cli(home, "run", "--config", str(config))
    assert second.returncode == 1
    assert "another kcna-monitor daemon is already running on sqlite:///" in second.stderr
    assert f"(pid {daemon.process.pid} on " in second.stderr
    assert "Traceback" not in second.stderr


def assert_the_next_article_arrives_once(daemon: Daemon) -> None:
    """The article just published is stored within a few runs, and not again."""
    for _ in range(5):
        if int(daemon.wait_for(OK_LINE).group(2)) == 1:
            break
    else:
        raise AssertionError("the new article was not stored within 5 runs")
    assert int(daemon.wait_for(OK_LINE).group(2)) == 0  # and not again


def assert_a_one_off_crawl_stores_nothing_twice(
    home: Path, server: FixtureServer, built: BuiltSite, db_url: str
) -> None:
    """A one-off crawl while the daemon runs: no errors, no duplicates."""
    starts = [a for p in built.start_paths_of("kcna") for a in ("--start-url", server.url + p)]
    one_off = cli(
        home,
        "crawl",
        "kcna",
        "--base-url",
        server.url,
        *starts,
        "--db",
        db_url,
        "--set",
        "DOWNLOAD_DELAY=0",
        "--set",
        "AUTOTHROTTLE_ENABLED=false",
    )
    assert one_off.returncode == 0, one_off.stderr
    assert "new 0," in one_off.stdout.splitlines()[-1]
    assert "locked" not in one_off.stderr and "Traceback" not in one_off.stderr


def assert_status_shows_the_running_daemon(
    home: Path, config: Path, daemon: Daemon, articles: int
) -> None:
    """``status`` works while the daemon runs, and counts ``articles``."""
    status = command(home, "status", "--json", "--config", str(config))
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["daemon"] == {
        "running": True,
        "pid": daemon.process.pid,
        "host": report["daemon"]["host"],
    }
    kcna = report["sources"]["kcna"]
    assert kcna["schedule"] == "every 1s" and kcna["last_run"]["status"] in ("ok", "running")
    assert report["articles"]["total"] == articles


def test_a_new_article_arrives_once_and_the_daemon_is_alone(
    server: FixtureServer, built: BuiltSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    config = write_config(tmp_path, db_url, source_toml("kcna", server, built))
    daemon = Daemon(config, tmp_path)
    daemons.append(daemon)
    first = daemon.wait_for(OK_LINE)
    assert int(first.group(2)) > 0
    kcna_count = repository(db_url).articles.count()

    assert_a_second_daemon_is_refused(tmp_path, config, daemon)
    # An article published on the site appears within a few runs, exactly once.
    article = built.publish_next()
    assert article is not None
    assert_the_next_article_arrives_once(daemon)
    assert_a_one_off_crawl_stores_nothing_twice(tmp_path, server, built, db_url)
    assert_status_shows_the_running_daemon(tmp_path, config, daemon, kcna_count + 1)

    assert daemon.stop(signal.SIGINT) == 0
    assert "Traceback" not in "\n".join(daemon.lines)
    log = daemon.lines  # the start and stop lines, and exactly one line per run in between
    assert " [daemon] started (pid " in log[0] and log[-1].endswith(" [daemon] stopped")
    runs = [re.search(r"\] kcna run (\d+): (ok|interrupted) in ", x) for x in log if "] kcna" in x]
    assert len({run.group(1) for run in runs if run}) == len(runs) == len(log) - 3 >= 3, log
    repo = repository(db_url)
    titles = [a.title for a in repo.articles.iterate()]
    assert titles.count(article.title) == 1
    assert len(titles) == kcna_count + 1  # (two corpus articles share a title)
    assert all(r.status != "running" for r in repo.runs.recent(limit=100))


def test_sigterm_during_a_crawl_exits_0_within_the_grace_and_a_restart_loses_nothing(
    server: FixtureServer, built: BuiltSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    # One article page never answers: the crawl is stuck on it when the stop comes.
    stuck = sorted(built.articles[0].urls)[0]
    gate = Gate(built.site, stuck.removeprefix("http://www.kcna.kp"))
    kcna = source_toml("kcna", server, built).replace(
        "[sources.kcna.settings]\n", "[sources.kcna.settings]\nKCNA_MONITOR_BATCH_SIZE = 1\n"
    )
    config = write_config(tmp_path, db_url, kcna, stop_grace="1s")
    daemon = Daemon(config, tmp_path)
    daemons.append(daemon)
    daemon.wait_for(r"started \(pid")
    assert gate.reached.wait(30)
    repo = repository(db_url)
    stored = repo.articles.count()
    began = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    took = time.monotonic() - began
    # The grace (1s), then the crawl is asked to stop, then killed (10s) at the latest.
    assert took < 1 + 10 + 3, f"took {took:.1f}s"
    log = "\n".join(daemon.lines)
    assert "stopping: waiting up to 1s for kcna" in log
    assert re.search(r"kcna run \d+: interrupted", log) and "Traceback" not in log
    [run] = repo.runs.recent(source="kcna")
    assert run.status == "interrupted" and run.finished_at is not None
    assert repo.articles.count() >= stored > 0  # what was stored stays stored
    assert repo.runs.source_states()["kcna"].current_run_id is None

    # Started again (the page answers now): everything arrives, nothing twice.
    gate.opened.set()
    again = Daemon(config, tmp_path)
    daemons.append(again)
    again.wait_for(OK_LINE)
    assert again.stop() == 0
    on_kcna = [
        a
        for a in built.articles
        if any(u.removeprefix("http://www.kcna.kp") in built.site.pages for u in a.urls)
    ]
    assert repo.articles.count() == len(on_kcna)
    ids = [a.id for a in repo.articles.iterate()]
    assert len(ids) == len(set(ids))


def test_a_hanging_crawl_is_stopped_and_a_crashing_one_recorded_and_the_daemon_goes_on(
    server: FixtureServer, built: BuiltSite, tmp_path: Path, daemons: list[Daemon]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    gate = Gate(built.site, built.start_paths_of("kcna")[0])
    config = write_config(
        tmp_path,
        db_url,
        # Long enough for a full crawl of the site on a busy 2-core machine.
        source_toml("kcna", server, built, timeout="20s"),
        # A setting that makes every crawl of this source die before it stores anything.
        source_toml("kcnawatch", server, built, extra="").replace(
            "[sources.kcnawatch.settings]\n",
            '[sources.kcnawatch.settings]\nTWISTED_REACTOR = "no.such.Reactor"\n',
        ),
    )
    daemon = Daemon(config, tmp_path)
    daemons.append(daemon)
    daemon.wait_for(r"kcnawatch run \d+: failed in [\d.]+s.*crawl exited with code 1")
    daemon.wait_for(r"kcna run \d+: failed in [\d.]+s.*timed out after 20s", timeout=60)
    daemon.wait_for(r"kcnawatch run \d+: failed in")  # the daemon keeps going
    gate.opened.set()
    daemon.wait_for(OK_LINE, timeout=90)  # the next run of the hung source happens, and works
    assert daemon.stop() == 0
    log = "\n".join(daemon.lines)
    assert "Traceback" not in log
    # What the crawls printed is in their runs' lines, not lines of its own.
    assert all(" [daemon] " in line for line in daemon.lines), daemon.lines

    repo = repository(db_url)
    runs = repo.runs.recent(limit=100)
    assert all(r.status != "running" for r in runs)
    timed_out = [r for r in runs if r.source == "kcna" and r.status == "failed"]
    assert timed_out and timed_out[-1].error == "timed out after 20s"
    crashed = [r for r in runs if r.source == "kcnawatch"]
    assert len(crashed) >= 2 and all(r.status == "failed" for r in crashed)
    assert all("crawl exited with code 1" in (r.error or "") for r in crashed)
    assert "No module named 'no'" in (crashed[0].error or "")

    status = command(tmp_path, "status", "--config", str(tmp_path / "config.toml"))
    assert status.returncode == 0, status.stderr
    assert "daemon     not running" in status.stdout
    assert "last error" in status.stdout and "crawl exited with code 1" in status.stdout
