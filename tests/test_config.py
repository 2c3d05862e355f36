"""The daemon's configuration: defaults, a good file, and one clear line for each mistake."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.config import default_config_path, load, parse_config
from scheduler.configtypes import ConfigError, format_duration, parse_duration
from tests.cli_helpers import run_main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "contrib" / "config.example.toml"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("500ms", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["15 minutes", "15", "m", "", "1.5.2s", "-5s", "5 s x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_durations_print_back_the_way_they_are_written() -> None:
    for text in ("30s", "15m", "2h", "1h30m", "1d", "2.5s"):
        assert format_duration(parse_duration(text)) == text


def test_no_file_means_every_source_on_its_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("KCNA_MONITOR_CONFIG", raising=False)
    assert default_config_path() == tmp_path / "kcna-monitor" / "config.toml"
    config = load(None)
    assert [s.name for s in config.enabled_sources()] == ["kcna", "kcnawatch"]
    kcna = config.sources["kcna"]
    assert kcna.every == timedelta(minutes=15) and kcna.cron is None
    assert config.sources["kcnawatch"].every == timedelta(minutes=30)
    assert kcna.timeout == timedelta(minutes=10) and kcna.concurrency == 1
    assert kcna.effective_jitter == timedelta(minutes=1)  # 10% of 15m, at most a minute
    assert kcna.base_url is None and kcna.start_urls == ()
    assert config.daemon.timezone == "UTC"


def test_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
[database]
url = "sqlite:///archive.db"

[daemon]
timezone = "Europe/Berlin"
stop_grace = "1m"

[sources.kcna]
base_url = "http://mirror.example.org/kcna/"
start_urls = ["http://mirror.example.org/kcna/en/article/list/x"]
cron = "*/20 * * * *"
timeout = "5m"
delay = "1s"
concurrency = 2

[sources.kcna.settings]
DOWNLOAD_TIMEOUT = 30
AUTOTHROTTLE_ENABLED = false

[sources.kcnawatch]
enabled = false
""",
        encoding="utf-8",
    )
    config = load(str(path))
    assert config.database_url == f"sqlite:///{tmp_path / 'archive.db'}"  # next to the file
    assert config.daemon.timezone == "Europe/Berlin"
    assert config.daemon.stop_grace == timedelta(minutes=1)
    kcna = config.sources["kcna"]
    assert kcna.base_url == "http://mirror.example.org/kcna"
    assert kcna.cron == "*/20 * * * *" and kcna.every is None
    assert kcna.settings == {"DOWNLOAD_TIMEOUT": 30, "AUTOTHROTTLE_ENABLED": False}
    assert (kcna.timeout, kcna.delay, kcna.concurrency) == (
        timedelta(minutes=5),
        timedelta(seconds=1),
        2,
    )
    assert [s.name for s in config.enabled_sources()] == ["kcna"]


def test_the_database_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config('[database]\nurl = "sqlite:////srv/a.db"\n')
    monkeypatch.delenv("KCNA_MONITOR_DB", raising=False)
    assert config.resolve_db(None) == "sqlite:////srv/a.db"
    monkeypatch.setenv("KCNA_MONITOR_DB", "sqlite:////srv/env.db")
    assert config.resolve_db(None) == "sqlite:////srv/env.db"
    assert config.resolve_db("sqlite:////srv/cli.db") == "sqlite:////srv/cli.db"


def test_the_example_file_is_valid() -> None:
    config = load(str(EXAMPLE))
    assert {s.name for s in config.enabled_sources()} == {"kcna", "kcnawatch"}


def test_a_named_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(str(tmp_path / "nope.toml"))
    monkeypatch.setenv("KCNA_MONITOR_CONFIG", str(tmp_path / "env.toml"))
    with pytest.raises(ConfigError, match=r"env\.toml does not exist"):
        load(None)


BAD = [
    ('[sources.kcna]\nevery = "15 minutes"', 'sources.kcna.every: bad duration "15 minutes"'),
    ("[sources.kcna]\nevery = 15", "sources.kcna.every: bad duration 15 (use e.g. 30s"),
    ('[sources.kcna]\nevery = "0s"', "sources.kcna.every: 0s is too short (at least 1s)"),
    ('[sources.kcna]\ntimeout = "soon"', 'sources.kcna.timeout: bad duration "soon"'),
    ('[sources.kcna]\ndelay = "1 sec"', 'sources.kcna.delay: bad duration "1 sec"'),
    ('[sources.kcna]\nevry = "15m"', "sources.kcna.evry: unknown key (allowed: base_url,"),
    ('[sources.bbc]\nevery = "15m"', "sources.bbc: unknown source (known: kcna, kcnawatch)"),
    (
        '[source.kcna]\nevery = "15m"',
        "source: unknown key (allowed: cluster, daemon, database, health, notify, smtp, sources,"
        " watch",
    ),
    (
        '[sources.kcna]\nbase_url = "ftp://x"',
        'sources.kcna.base_url: not an http(s) URL: "ftp://x"',
    ),
    (
        '[sources.kcna]\nbase_url = "kcna.kp"',
        'sources.kcna.base_url: not an http(s) URL: "kcna.kp"',
    ),
    (
        '[sources.kcna]\nstart_urls = ["http://a.b/x", "nope"]',
        'sources.kcna.start_urls[1]: not an http(s) URL: "nope"',
    ),
    (
        '[sources.kcna]\nstart_urls = "http://a.b/x"',
        'sources.kcna.start_urls: expected a list of URLs, got "http://a.b/x"',
    ),
    ('[sources.kcna]\nenabled = "yes"', 'sources.kcna.enabled: expected true or false, got "yes"'),
    ("[sources.kcna]\nconcurrency = 0", "sources.kcna.concurrency: expected a whole number of"),
    ("[sources.kcna]\nconcurrency = 1.5", "sources.kcna.concurrency: expected a whole number"),
    (
        '[sources.kcna]\nevery = "15m"\ncron = "* * * * *"',
        "sources.kcna: give either every or cron, not both",
    ),
    ('[sources.kcna]\ncron = "*/15 * * *"', 'sources.kcna.cron: bad cron expression "*/15 * * *"'),
    (
        '[sources.kcna]\nevery = "1m"\njitter = "2m"',
        "sources.kcna.jitter: 2m must be shorter than every (1m)",
    ),
    (
        "[sources.kcna.settings]\ndownload_delay = 1",
        "sources.kcna.settings.download_delay: not a Scrapy setting name",
    ),
    (
        "[sources.kcna]\nenabled = false\n[sources.kcnawatch]\nenabled = false",
        "sources: every source is disabled",
    ),
    ('[database]\nurl = "mysql://x/y"', 'database.url: unsupported database "mysql"'),
    ('[database]\nurl = "not a url"', 'database.url: not a database URL: "not a url"'),
    ('[database]\npath = "x"', "database.path: unknown key (allowed: url)"),
    ('[daemon]\ntimezone = "Mars/Base"', 'daemon.timezone: unknown time zone "Mars/Base"'),
    ('[daemon]\nstop_grace = "a while"', 'daemon.stop_grace: bad duration "a while"'),
    ('[daemon]\nmisfire_grace = "0s"', "daemon.misfire_grace: 0s is too short"),
    ("[sources.kcna\nevery = 1", "config: not valid TOML:"),
    ('sources = "kcna"', 'sources: expected a table ([sources]), got "kcna"'),
    (
        '[sources.kcna]\nevery = "99999999999d"',
        'sources.kcna.every: "99999999999d" is too long (at most 365d)',
    ),
    ('[sources.kcna]\ntimeout = "366d"', 'sources.kcna.timeout: "366d" is too long'),
    ('[sources.kcna]\ndelay = "1' + "0" * 400 + 'ms"', "sources.kcna.delay: "),
    ('[daemon]\nstop_grace = "9999999999h"', 'daemon.stop_grace: "9999999999h" is too long'),
    ('[notify]\nretry_max = "99999999999d"', 'notify.retry_max: "99999999999d" is too long'),
    (
        "[sources.kcna]\nmax_pages = 99999999999999999999",
        "sources.kcna.max_pages: 99999999999999999999 is too large (at most 1000000000)",
    ),
    ("[sources.kcna]\npause_after = 10000000000", "sources.kcna.pause_after: 10000000000 is too"),
    (
        '[database]\nurl = "postgresql://u@h:notaport/x"',
        'database.url: not a database URL: "postgresql://u@h:notaport/x"',
    ),
    (
        '[sources.kcna]\nstart_urls = ["http://evil.example/en/article/q/x.kcmsf"]',
        'sources.kcna.start_urls[0]: "http://evil.example/en/article/q/x.kcmsf" is not on an'
        " allowed host (allowed: kcna.kp, www.kcna.kp; a mirror's host with base_url)",
    ),
    (
        '[sources.kcna]\nbase_url = "http://mirror.example.org"\n'
        'start_urls = ["http://other.example.org/en/article/q/x.kcmsf"]',
        "allowed: kcna.kp, mirror.example.org, www.kcna.kp;",
    ),
    (
        '[[watch]]\nname = "slow"\nmatch = "(a+)+$"',
        'watch[0].match: rule "slow": "(a+)+$" can take exponential time on some texts'
        " (a repeated group contains a quantifier (nested quantifiers)); rewrite it, e.g. with"
        " a possessive quantifier (a++) or an atomic group (?>...)",
    ),
    ('[[watch]]\nname = "stars"\nmatch = "x(a*)*"', 'rule "stars": "x(a*)*" can take'),
    (
        '[[watch]]\nname = "alt"\nmatch = "(a|aa)+b"',
        'rule "alt": "(a|aa)+b" can take exponential time on some texts (a repeated group has'
        " alternatives that can match the same text)",
    ),
    ('[[watch]]\nname = "w"\nmatch = "(\\\\w+\\\\s?)+!"', 'rule "w": "(\\w+\\s?)+!" can take'),
    ('[[watch]]\nname = "a"\nmatch = "x"\nmax_age = "1000d"', 'watch[0].max_age: "1000d" is too'),
]


@pytest.mark.parametrize(
    ("text", "message"), BAD, ids=[f"{i}-{m.split(':')[0]}" for i, (_, m) in enumerate(BAD)]
)
def test_each_mistake_is_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bad_config_stops_run_with_exit_2_and_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[sources.kcna]\nevery = "15 minutes"\n', encoding="utf-8")
    result = run_main("run", "--config", str(path), env={})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        'kcna-monitor: error: sources.kcna.every: bad duration "15 minutes" (use e.g. 30s, 15m, 2h)'
    )


def test_watch_rules_and_health_are_part_of_the_daemon_config() -> None:
    config = parse_config(
        """
[[watch]]
name = "missiles"
match = "missile|ICBM"
sources = ["kcna"]
notify = ["log"]

[health]
quiet_after = "2d"
"""
    )
    [rule] = config.monitoring.watch
    assert rule.name == "missiles"
    assert config.monitoring.health.of("kcna").quiet_after == timedelta(days=2)


def test_a_bad_watch_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"watch\[0\]\.match"):
        parse_config('[[watch]]\nname = "x"\nmatch = "("\nnotify = ["log"]\n')


@pytest.mark.parametrize(
    "match",
    [
        "missile|ICBM|hypersonic",
        "(missile|ICBM)+",
        "(?:North|South)\\s+Korea",
        "(?:\\w+\\s+){0,3}launch",
        "(?:a++)+b",
        "(?>a+)+b",
        "(ab{3})+",
    ],
)
def test_watch_rules_that_cannot_backtrack_badly_are_accepted(match: str) -> None:
    text = f'[[watch]]\nname = "ok"\nmatch = {json.dumps(match)}\nnotify = ["log"]\n'
    [rule] = parse_config(text).monitoring.watch
    assert rule.pattern.pattern == match


def test_the_longest_duration_is_accepted() -> None:
    config = parse_config('[sources.kcna]\nevery = "365d"\ntimeout = "8760h"\n')
    assert config.sources["kcna"].every == timedelta(days=365)
    assert config.sources["kcna"].timeout == timedelta(days=365)
