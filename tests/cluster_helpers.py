"""Helpers of the cluster tests: several real daemon processes (nodes) on one PostgreSQL
archive, a site that can be made to hold its article pages, what the archive says about
slots and runs, and a private throwaway PostgreSQL server the tests may restart (never the
shared one)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from glob import glob
from pathlib import Path

import pytest

from replica.server import FixtureServer, FixtureSite, Page
from replica.site import BuiltSite
from storage.cluster import ClaimView
from storage.db import make_engine
from storage.records import RunView
from storage.repository import Repository
from tests.storage_helpers import _in_ci
from tests.test_daemon_e2e import Daemon, source_toml, write_config

LEASE = timedelta(seconds=3)
#: The most a takeover may take after a node dies: its lease, then a peer's next look.
TAKEOVER_WITHIN = LEASE.total_seconds() * 4 / 3 + 3.0


def cluster_config(
    tmp_path: Path,
    db_url: str,
    server: FixtureServer,
    built: BuiltSite,
    *,
    every: str,
    extra: str = "",
    sources: tuple[str, ...] = ("kcna",),
    timeout: str = "30s",
) -> Path:
    """``sources`` (kcna.kp alone unless told), each on ``every``, with a short lease;
    ``extra``: more TOML."""
    tables = [source_toml(name, server, built, every=every, timeout=timeout) for name in sources]
    path = write_config(tmp_path, db_url, *tables)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text + f'\n[cluster]\nlease = "{int(LEASE.total_seconds())}s"\n{extra}', encoding="utf-8"
    )
    return path


@dataclass
class Nodes:
    """Daemon processes on one configuration; every one is killed at the end."""

    config: Path
    home: Path
    started: list[Daemon] = field(default_factory=list)

    def start(self) -> Daemon:
        node = Daemon(self.config, self.home)
        self.started.append(node)
        node.wait_for(r"started \(pid \d+, node ", timeout=60)
        return node

    def live(self) -> list[Daemon]:
        return [node for node in self.started if node.process.poll() is None]

    def pump(self, seconds: float) -> None:
        """Read the live nodes' logs for ``seconds`` (their pipes never fill up)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for node in self.live():
                node._read(min(deadline, time.monotonic() + 0.2))

    def by_pid(self, pid: int) -> Daemon:
        return next(node for node in self.started if node.process.pid == pid)

    def stop_all(self, timeout: float = 30.0) -> list[int]:
        """SIGTERM to every live node at once; their exit statuses."""
        live = self.live()
        for node in live:
            node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for node in live:
            while node._read(deadline) and time.monotonic() < deadline:
                pass
        return [node.process.wait(timeout=max(0.1, deadline - time.monotonic())) for node in live]

    def kill_all(self) -> None:
        """Kill every node; their logs are left in ``nodes.log`` of the home folder."""
        with open(self.home / "nodes.log", "w", encoding="utf-8") as log:
            for node in self.started:
                log.write(f"-- node pid {node.process.pid}\n" + "\n".join(node.lines) + "\n")
        for node in self.started:
            with contextlib.suppress(ProcessLookupError):
                node.process.send_signal(signal.SIGCONT)  # a stopped one dies when resumed
            node.kill()


class Slowdown:
    """Make the site's article pages wait while ``on`` (the listings answer at once), until
    released; ``reached`` is set once a request waited."""

    def __init__(self, site: FixtureSite, listings: list[str]) -> None:
        self.opened = threading.Event()
        self.opened.set()
        self.reached = threading.Event()
        original = site.answer

        def answer(method: str, path: str, form: Mapping[str, str], cookie: bool) -> Page:
            if path not in listings and not self.opened.is_set():
                self.reached.set()
                self.opened.wait(60)
            return original(method, path, form, cookie)

        site.answer = answer  # type: ignore[method-assign]

    def hold(self) -> None:
        self.reached.clear()
        self.opened.clear()

    def release(self) -> None:
        self.opened.set()


# -- what the archive says --------------------------------------------------------------------


@contextmanager
def archive(db_url: str) -> Iterator[Repository]:
    repo = Repository(make_engine(db_url))
    try:
        yield repo
    finally:
        repo.engine.dispose()


def claims(db_url: str, source: str = "kcna") -> list[ClaimView]:
    with archive(db_url) as repo:
        return repo.cluster.claims(source=source)


def runs(db_url: str, source: str = "kcna") -> dict[int, RunView]:
    with archive(db_url) as repo:
        return {run.id: run for run in repo.runs.recent(limit=10_000, source=source)}


def wait_until(what: str, check: object, nodes: Nodes, timeout: float) -> None:
    """Pump the nodes' logs until ``check()`` is true, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        nodes.pump(0.3)


#: After a node's run is recorded at an end, its job still logs it and checks the watch rules
#: (on two busy cores, a second or two).
SETTLING = timedelta(seconds=2)


def assert_each_slot_ran_once(
    db_url: str, every: timedelta, *, source: str = "kcna", tail: int = 3
) -> list[ClaimView]:
    """Each slot of ``source`` from the first claimed to the last was claimed once, done
    with exactly one run that counts (ok), and every run is some slot's: a run taken over is
    interrupted and superseded by the slot's next run. Of the last ``tail`` slots, those
    running when every node stopped may be given back, interrupted.

    A slot nobody claimed is allowed only when every node up then (as the nodes' check-ins
    say) was busy with a run of the source when it came due (from the run's start to its
    claim's end, and the job's settling after it): each node runs one crawl of a source at a
    time, as a lone daemon skips a run due while the previous one still goes, and on a
    loaded machine a crawl may outlast three intervals. Returns the claims."""
    found, recorded = claims(db_url, source), runs(db_url, source)
    slots = [claim.slot_at for claim in found]
    assert slots, "no slot was claimed"
    assert len(set(slots)) == len(slots)
    expected = [slots[0] + every * n for n in range(int((slots[-1] - slots[0]) / every) + 1)]
    spans = [
        (recorded[c.run_id or 0].started_at, (c.finished_at or slots[-1] + every) + SETTLING)
        for c in found
    ]
    with archive(db_url) as repo:
        nodes = repo.cluster.nodes()
    for slot in sorted(set(expected) - set(slots)):
        busy = [span for span in spans if span[0] <= slot < span[1]]
        up = [n for n in nodes if n.started_at <= slot and (n.stopped_at or slot) >= slot]
        assert len(busy) >= len(up), f"slot {slot} missed while a node was free: {busy}, {up}"
    for number, claim in enumerate(found):
        run = recorded[claim.run_id or 0]
        if claim.state == "released" and number >= len(found) - tail:
            assert run.status == "interrupted", (claim, run)
            continue
        assert claim.state == "done", claim
        assert run.status == "ok" and run.superseded_by is None, (claim, run)
    counted = Counter(claim.run_id for claim in found)
    assert max(counted.values()) == 1
    for run in recorded.values():
        if run.id not in counted:
            assert run.status == "interrupted" and run.superseded_by in recorded, run
    return found


def assert_articles_stored_once(db_url: str, built: BuiltSite, published: list[object]) -> None:
    """Every article of the site is stored under one id at most, the ones ``published``
    during the test under exactly one, and the archive holds nothing else (no duplicate)."""
    with archive(db_url) as repo:
        found = {}
        for article in built.articles:
            ids = {repo.articles.id_at(url) for url in sorted(article.urls)} - {None}
            assert len(ids) <= 1, (article.urls, ids)
            found[id(article)] = ids
        total = repo.articles.count()
    for article in published:
        assert len(found[id(article)]) == 1, f"{article} not stored"
    assert total == len(set().union(*found.values()))


# -- a private PostgreSQL server ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bindir() -> Path | None:
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates = [found.stdout.strip()] if found.returncode == 0 else []
    except OSError:
        candidates = []
    candidates += sorted(glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return next((Path(c) for c in candidates if c and (Path(c) / "initdb").exists()), None)


class PrivatePostgres:
    """A throwaway PostgreSQL server on 127.0.0.1 in a folder of its own (trust
    authentication, a free port, its socket in that folder), started, restarted and stopped
    by the test. Run as the ``postgres`` user when the tests run as root (the server refuses
    root); its folder is then that user's."""

    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            _unavailable("no PostgreSQL server binaries (initdb) found")
        self.bindir = bindir
        self.root = root = Path(tempfile.mkdtemp(prefix="kcna-monitor-pg-"))
        self.data = root / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                _unavailable("running as root without runuser to start PostgreSQL as postgres")
            self._as = [runuser, "-u", "postgres", "--"]
            shutil.chown(root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as, str(self.bindir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            _unavailable(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=100"
        )
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason} (CI is set, so this is an error)")
    pytest.skip(reason)
