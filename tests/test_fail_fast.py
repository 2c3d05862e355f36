"""End to end: a crawl of a host that cannot be reached gives up on it at once and says why in
one line: a name that does not resolve (``.invalid``, RFC 6761: never, and no network needed),
a refused connection, a proxy that is not there. The crawls keep the project's retries and
backoff (5 s, doubled): only the fail-fast can end them promptly, and the tests count the
requests sent (Scrapy's stats, dumped at INFO level) rather than time them."""

from __future__ import annotations

import os
import re
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.daemon.settings import SourceConfig
from scheduler.daemon.supervisor import RunSupervisor, SourceStates
from storage.db import make_engine, migrate
from storage.repository import Repository
from tests.test_e2e_crawl import cli

pytestmark = pytest.mark.e2e

#: Short enough that a crawl which did wait for something would end, still, within the test.
SHORT = ["--set", "DOWNLOAD_TIMEOUT=5"]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dumped(stats: str, stderr: str) -> int | None:
    """A counter of the crawl's stats as Scrapy dumps them at the end (INFO level)."""
    found = re.search(rf"'{re.escape(stats)}': (\d+)", stderr)
    return int(found.group(1)) if found else None


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_a_host_whose_name_does_not_resolve_is_asked_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    result = cli(
        *("crawl", "kcna", "--base-url", "http://www.kcna.invalid", "--db", db),
        *(*SHORT, "--log-level", "INFO"),
        env_home=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    # robots.txt, the host's first request, failed; its ten listing pages were never sent.
    assert dumped("downloader/request_count", result.stderr) == 1
    assert dumped("retry/count", result.stderr) is None
    assert dumped("kcna_monitor/backoff_seconds", result.stderr) is None
    assert "Gave up retrying" not in result.stderr
    line = (
        "cannot reach the mirror www.kcna.invalid (DNS lookup failed: is the address right?)"
        " — check --base-url (base_url in the configuration)"
    )
    assert f"[crawler.middlewares.unreachable] kcna: {line}" in result.stderr
    assert error_lines(result.stderr)[-1] == (
        f"kcna-monitor: error: nothing could be fetched; kcna: {line}"
    )


def test_a_refused_connection_is_one_line_and_the_pages_are_recorded_failures(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    port = closed_port()
    result = cli(
        "crawl", "kcna", "--base-url", f"http://127.0.0.1:{port}", "--db", db, *SHORT,
        env_home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    reason = (
        f"cannot reach the mirror 127.0.0.1:{port} (connection refused: is it running?)"
        " — check --base-url (base_url in the configuration)"
    )
    # At the default level the line is all there is on stderr.
    assert error_lines(result.stderr) == [
        f"kcna-monitor: error: nothing could be fetched; kcna: {reason}"
    ]
    assert "failed   10" in result.stdout  # each listing a failure, which the next run retries
    [run] = Repository(make_engine(db)).runs.recent(limit=1)
    assert (run.status, run.pages, run.failures, run.error) == ("failed", 0, 10, reason)


def test_a_proxy_that_is_not_there_is_named(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    port = closed_port()
    result = cli(
        "crawl", "kcnawatch", "--proxy", f"http://127.0.0.1:{port}", "--db", db, *SHORT,
        env_home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert error_lines(result.stderr) == [
        "kcna-monitor: error: nothing could be fetched; kcnawatch: cannot reach the proxy"
        f" 127.0.0.1:{port} (connection refused: is it running?) — check --proxy, the"
        " source's proxy or HTTP(S)_PROXY (see README)"
    ]


def test_the_daemon_s_run_report_gives_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    db = f"sqlite:///{tmp_path / 'a.db'}"
    engine = make_engine(db)
    migrate(engine)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    states = SourceStates(clock, pid=os.getpid(), host="test", repo=Repository(engine))
    supervisor = RunSupervisor(states, db_url=db, clock=clock)
    port = closed_port()
    source = SourceConfig.model_validate(
        {
            "name": "kcna",
            "base_url": f"http://127.0.0.1:{port}",
            "settings": {"DOWNLOAD_TIMEOUT": 5},
        }
    )
    report = supervisor.run(source)
    assert report.status == "failed"
    assert report.line().endswith(
        f"; cannot reach the mirror 127.0.0.1:{port} (connection refused: is it running?)"
        " — check --base-url (base_url in the configuration)"
    )
