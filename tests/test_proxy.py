"""Crawling through a proxy: the public sites, without ``--base-url``, reached through a forward
proxy on 127.0.0.1 (tests/forward_proxy.py) that answers for their host names from the replica;
named by ``--proxy``, by HTTP_PROXY/HTTPS_PROXY, or by a source's ``proxy`` in the
configuration. The stored URLs are the public ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.sources import SOURCES
from replica.server import FixtureServer
from replica.site import BuiltSite, build_site
from scheduler.config import ConfigError, parse_config
from scheduler.daemon.supervisor import RunSupervisor, SourceStates
from tests.forward_proxy import ForwardProxy
from tests.test_e2e_crawl import FAST, cli, command, export
from tests.test_fail_fast import closed_port

pytestmark = pytest.mark.e2e

HOSTS = {host for source in SOURCES.values() for host in source.hosts}
PUBLIC = tuple(f"{source.public_root}/" for source in SOURCES.values())


@pytest.fixture
def built() -> BuiltSite:
    return build_site()


@pytest.fixture
def proxy(built: BuiltSite, tmp_path: Path) -> Iterator[ForwardProxy]:
    with FixtureServer(built.site) as server, ForwardProxy(server.url, HOSTS, tmp_path) as running:
        yield running


def public_starts(built: BuiltSite) -> list[str]:
    """``--start-url`` of each start page of the replica, by its public URL."""
    return [
        arg
        for name, source in SOURCES.items()
        for path in built.start_paths_of(name)
        for arg in ("--start-url", source.public_root + path)
    ]


def assert_stored_as_public(built: BuiltSite, db_url: str, home: Path) -> None:
    records = export(db_url, home)
    assert len(records) == len(built.articles)
    stored = {url for record in records for url in (record["url"], *record["urls"])}
    assert all(url.startswith(PUBLIC) for url in stored), sorted(stored)[:5]
    assert {url for article in built.articles for url in article.urls} <= stored


def assert_through(proxy: ForwardProxy) -> None:
    """kcna.kp's pages were asked for whole, KCNA Watch's through a tunnel."""
    assert ("GET", "http://www.kcna.kp/robots.txt") in proxy.requests
    assert ("CONNECT", "kcnawatch.org:443") in proxy.requests
    assert ("GET", "https://kcnawatch.org/newstream/") in proxy.requests


def test_a_crawl_through_the_proxy_stores_the_public_urls(
    proxy: ForwardProxy, built: BuiltSite, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    result = cli(
        *("crawl", "--proxy", proxy.url, "--max-pages", "5", "--db", db_url),
        *(*public_starts(built), *FAST),
        env_home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "failed 0" in result.stdout
    assert_through(proxy)
    assert_stored_as_public(built, db_url, tmp_path)


def test_the_environment_s_proxies_are_honoured_and_one_not_there_is_named(
    proxy: ForwardProxy, built: BuiltSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no", "all", "http", "https"):  # lower case names would come first
        monkeypatch.delenv(f"{name}_proxy", raising=False)
        monkeypatch.delenv(f"{name.upper()}_PROXY", raising=False)
    port = closed_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")  # kcna.kp is http
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)  # KCNA Watch is https
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    result = cli(
        "crawl", "--max-pages", "5", "--db", db_url, *public_starts(built), *FAST,
        env_home=tmp_path,
    )  # fmt: skip
    # KCNA Watch was crawled, so the crawl did its job; why kcna.kp was not is one line.
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"kcna-monitor: kcna: cannot reach the proxy 127.0.0.1:{port} (connection refused:"
        " is it running?) — check --proxy, the source's proxy or HTTP(S)_PROXY (see README)"
    ]
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}
    assert (rows["kcna"], rows["kcnawatch"]) == ("failed", "ok")
    assert ("CONNECT", "kcnawatch.org:443") in proxy.requests
    assert not [target for _, target in proxy.requests if "kcna.kp" in target]
    stored = {record["url"] for record in export(db_url, tmp_path)}
    assert stored and all(url.startswith(PUBLIC) for url in stored)


def test_a_source_s_proxy_is_passed_to_its_crawl() -> None:
    config = parse_config('[sources.kcna]\nproxy = "http://127.0.0.1:3128"\n')
    assert config.sources["kcna"].proxy == "http://127.0.0.1:3128"
    assert config.sources["kcnawatch"].proxy is None
    clock = lambda: datetime.now(UTC)  # noqa: E731
    supervisor = RunSupervisor(
        SourceStates(clock, pid=os.getpid(), host="h"), db_url="", clock=clock
    )
    kcna = supervisor.command(config.sources["kcna"], run_id=7)
    assert kcna[kcna.index("--proxy") + 1] == "http://127.0.0.1:3128"
    assert "--proxy" not in supervisor.command(config.sources["kcnawatch"], run_id=8)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"socks5://127.0.0.1:1080"', 'sources.kcna.proxy: not an http(s) URL: "socks5://'),
        ('"127.0.0.1:3128"', 'sources.kcna.proxy: not an http(s) URL: "127.0.0.1:3128"'),
        ("3128", "sources.kcna.proxy: expected an http(s) URL, got 3128"),
        (
            '"http://me:secret@proxy.example:3128"',
            "sources.kcna.proxy: a password does not belong in the file: give the proxy in"
            " HTTP_PROXY and HTTPS_PROXY in the daemon's environment instead",
        ),
    ],
)
def test_a_bad_proxy_is_a_config_error(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(f"[sources.kcna]\nproxy = {value}\n")
    assert str(raised.value).startswith(message)


def test_a_bad_proxy_option_is_one_line(tmp_path: Path) -> None:
    result = command(
        "crawl", "--proxy", "socks5://127.0.0.1:1080", "--db", f"sqlite:///{tmp_path / 'a.db'}",
        env_home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "kcna-monitor: error: --proxy: not an http(s) URL: 'socks5://127.0.0.1:1080'\n"
    )
