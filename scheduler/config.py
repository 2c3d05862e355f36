"""The daemon's configuration: a TOML file, validated before anything starts.

Where it is read from: ``--config FILE``, else ``$KCNA_MONITOR_CONFIG``, else
``$XDG_CONFIG_HOME/kcna-monitor/config.toml`` (``~/.config/kcna-monitor/config.toml``).
A file named by ``--config`` or the variable must exist; the default file is optional, and
without it every source runs on its defaults. See ``contrib/config.example.toml``.

Every mistake is one :class:`ConfigError` line naming the key and what is allowed, e.g.
``sources.kcna.every: bad duration "15 minutes" (use e.g. 30s, 15m, 2h)``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from scheduler.configcheck import ConfigError, check_keys, show
from scheduler.crawl.options import SPIDERS, allowed_hosts
from scheduler.monitor.outbox import SECTIONS as MONITORING_SECTIONS
from scheduler.monitor.outbox import MonitoringConfig, parse_monitoring

ENV_CONFIG = "KCNA_MONITOR_CONFIG"
ENV_DB = "KCNA_MONITOR_DB"

#: How often each source is crawled when the configuration does not say.
DEFAULT_EVERY: dict[str, timedelta] = {
    "kcna": timedelta(minutes=15),
    "kcnawatch": timedelta(minutes=30),
}
DEFAULT_TIMEOUT = timedelta(minutes=10)
DEFAULT_DELAY = timedelta(seconds=2)
DEFAULT_CONCURRENCY = 1
DEFAULT_STOP_GRACE = timedelta(seconds=30)
DEFAULT_PAUSE_AFTER = 3
DEFAULT_PAUSE_MAX = timedelta(hours=6)
DEFAULT_TIMEZONE = "UTC"
#: The default jitter is this share of the interval, at most :data:`MAX_DEFAULT_JITTER`.
DEFAULT_JITTER_SHARE = 0.1
MAX_DEFAULT_JITTER = timedelta(minutes=1)

DURATION_HINT = "use e.g. 30s, 15m, 2h"
#: The longest duration the configuration takes (an interval, a timeout, an age).
MAX_DURATION = timedelta(days=365)
#: The largest whole number the configuration takes (pages, concurrency, counts).
MAX_WHOLE = 1_000_000_000
_DURATION_RE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SETTING_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")

TOP_KEYS = tuple(sorted(("daemon", "database", "sources", *MONITORING_SECTIONS)))
DATABASE_KEYS = ("url",)
DAEMON_KEYS = ("misfire_grace", "stop_grace", "timezone")
SOURCE_KEYS = (
    "base_url",
    "concurrency",
    "cron",
    "delay",
    "enabled",
    "every",
    "jitter",
    "max_pages",
    "pause_after",
    "pause_max",
    "settings",
    "start_urls",
    "timeout",
)


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/kcna-monitor/config.toml`` (``~/.config/...`` when unset)."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "kcna-monitor" / "config.toml"


# -- values ------------------------------------------------------------------------------


class DurationTooLong(ValueError):
    """A well-formed duration longer than :data:`MAX_DURATION`."""


def parse_duration(text: str) -> timedelta:
    """``"30s"``, ``"15m"``, ``"2h"``, ``"1h30m"``, ``"1d"``, ``"500ms"`` as a timedelta.

    Raises ValueError for anything else (bare numbers included: the unit is required), and
    :class:`DurationTooLong` for a duration longer than :data:`MAX_DURATION`.
    """
    compact = text.strip().replace(" ", "") if isinstance(text, str) else None
    if not compact or not _DURATION_RE.fullmatch(compact):
        raise ValueError(text)
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART_RE.findall(compact))
    if not seconds <= MAX_DURATION.total_seconds():  # also refuses an infinite sum
        raise DurationTooLong(text)
    return timedelta(seconds=seconds)


def too_long(name: str, value: Any) -> str:
    """The message for a duration longer than :data:`MAX_DURATION`."""
    return f"{name}: {show(value)} is too long (at most {format_duration(MAX_DURATION)})"


def format_duration(value: timedelta) -> str:
    """A duration the way the configuration writes it: ``15m``, ``1h30m``, ``2.5s``."""
    total = value.total_seconds()
    if total < 60 and total != int(total):
        return f"{total:g}s"
    seconds = int(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def cron_trigger(expression: str, timezone: str = DEFAULT_TIMEZONE) -> CronTrigger:
    """The trigger of a five-field crontab expression; ValueError says what is wrong."""
    return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))


# -- the configuration -------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """How one source is crawled: where from, how often, how politely, for how long."""

    name: str
    enabled: bool = True
    base_url: str | None = None  # None: the source's public site
    start_urls: tuple[str, ...] = ()  # empty: the source's own listing pages
    every: timedelta | None = None
    cron: str | None = None
    jitter: timedelta | None = None  # None: a share of the interval
    timeout: timedelta = DEFAULT_TIMEOUT
    delay: timedelta = DEFAULT_DELAY
    concurrency: int = DEFAULT_CONCURRENCY
    max_pages: int | None = None
    #: After this many failed runs in a row the source pauses, for one interval at first,
    #: doubling with each further failure up to ``pause_max`` (0: never pause).
    pause_after: int = DEFAULT_PAUSE_AFTER
    pause_max: timedelta = DEFAULT_PAUSE_MAX
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_jitter(self) -> timedelta:
        """The configured jitter, else 10% of the interval (at most a minute; none for cron)."""
        if self.jitter is not None:
            return self.jitter
        if self.every is None:
            return timedelta(0)
        return min(self.every * DEFAULT_JITTER_SHARE, MAX_DEFAULT_JITTER)

    def describe_schedule(self) -> str:
        if self.cron is not None:
            return f'cron "{self.cron}"'
        assert self.every is not None
        return f"every {format_duration(self.every)}"

    def schedule_key(self) -> tuple[Any, ...]:
        """What decides when the source runs (a reload that changes it reschedules)."""
        return (self.every, self.cron, self.jitter)


@dataclass(frozen=True)
class DaemonConfig:
    timezone: str = DEFAULT_TIMEZONE
    #: How long a running crawl may go on after a stop is asked for.
    stop_grace: timedelta = DEFAULT_STOP_GRACE
    #: How late a scheduled run may start (None: up to one interval, so a missed run
    #: after a suspend or a busy spell happens once rather than not at all).
    misfire_grace: timedelta | None = None


@dataclass(frozen=True)
class Config:
    path: Path | None
    database_url: str | None
    daemon: DaemonConfig
    sources: dict[str, SourceConfig]
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)

    def enabled_sources(self) -> list[SourceConfig]:
        return [source for source in self.sources.values() if source.enabled]

    def resolve_db(self, cli_db: str | None = None) -> str:
        """``--db`` > ``$KCNA_MONITOR_DB`` > ``[database] url`` > the default SQLite file."""
        from crawler.settings import default_database_url

        return cli_db or os.environ.get(ENV_DB) or self.database_url or default_database_url()


def default_source(name: str) -> SourceConfig:
    return SourceConfig(name=name, every=DEFAULT_EVERY.get(name, timedelta(minutes=30)))


def default_config() -> Config:
    """Every source enabled on its defaults; the database from the environment or default."""
    return Config(
        path=None,
        database_url=None,
        daemon=DaemonConfig(),
        sources={name: default_source(name) for name in SPIDERS},
    )


def locate(cli_path: str | None) -> tuple[Path, bool]:
    """The file to read and whether it must exist (named explicitly) or is optional."""
    if cli_path:
        return Path(cli_path).expanduser(), True
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return Path(from_env).expanduser(), True
    return default_config_path(), False


def load_config(cli_path: str | None = None) -> Config:
    """Read and validate the configuration (see the module docstring for where from)."""
    path, required = locate(cli_path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist") from None
        return default_config()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    return parse_config(raw.decode("utf-8", errors="replace"), path=path)


def parse_config(text: str, *, path: Path | None = None) -> Config:
    """Validate the TOML text of a configuration."""
    where = str(path) if path is not None else "config"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where}: not valid TOML: {error}") from None
    check_keys(data, "", TOP_KEYS)
    base_dir = path.resolve().parent if path is not None else None

    database = _table(data, "database")
    check_keys(database, "database", DATABASE_KEYS)
    db_url = None
    if "url" in database:
        db_url = _database_url(_string(database, "database.url", "url"), base_dir)

    daemon_table = _table(data, "daemon")
    check_keys(daemon_table, "daemon", DAEMON_KEYS)
    daemon = DaemonConfig()
    if "timezone" in daemon_table:
        zone = _string(daemon_table, "daemon.timezone", "timezone")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f'daemon.timezone: unknown time zone "{zone}" (use e.g. UTC, Europe/Berlin)'
            ) from None
        daemon = replace(daemon, timezone=zone)
    if "stop_grace" in daemon_table:
        daemon = replace(
            daemon, stop_grace=_duration(daemon_table, "daemon.stop_grace", "stop_grace")
        )
    if "misfire_grace" in daemon_table:
        grace = _duration(daemon_table, "daemon.misfire_grace", "misfire_grace", positive=True)
        daemon = replace(daemon, misfire_grace=grace)

    sources = {name: default_source(name) for name in SPIDERS}
    source_tables = _table(data, "sources")
    for name, table in source_tables.items():
        if name not in SPIDERS:
            raise ConfigError(
                f"sources.{name}: unknown source (known: {', '.join(sorted(SPIDERS))})"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"sources.{name}: expected a table ([sources.{name}])")
        sources[name] = _source(name, table, daemon.timezone)
    monitoring = parse_monitoring(data)
    config = Config(
        path=path, database_url=db_url, daemon=daemon, sources=sources, monitoring=monitoring
    )
    if not config.enabled_sources():
        raise ConfigError(
            f"sources: every source is disabled; enable at least one of "
            f"{', '.join(sorted(SPIDERS))}"
        )
    return config


def _source(name: str, table: dict[str, Any], timezone: str) -> SourceConfig:
    prefix = f"sources.{name}"
    check_keys(table, prefix, SOURCE_KEYS)
    source = default_source(name)
    values: dict[str, Any] = {}
    if "enabled" in table:
        if not isinstance(table["enabled"], bool):
            raise ConfigError(
                f"{prefix}.enabled: expected true or false, got {show(table['enabled'])}"
            )
        values["enabled"] = table["enabled"]
    if "base_url" in table:
        values["base_url"] = _url(table, f"{prefix}.base_url", "base_url").rstrip("/")
    if "start_urls" in table:
        urls = table["start_urls"]
        if not isinstance(urls, list):
            raise ConfigError(f"{prefix}.start_urls: expected a list of URLs, got {show(urls)}")
        checked = []
        for index, url in enumerate(urls):
            checked.append(_url({"u": url}, f"{prefix}.start_urls[{index}]", "u"))
        hosts = allowed_hosts([name], values.get("base_url"))
        for index, url in enumerate(checked):
            if (urlsplit(url).hostname or "").lower() not in hosts:
                raise ConfigError(
                    f'{prefix}.start_urls[{index}]: "{url}" is not on an allowed host'
                    f" (allowed: {', '.join(sorted(hosts))}; a mirror's host with base_url)"
                )
        values["start_urls"] = tuple(checked)
    if "every" in table and "cron" in table:
        raise ConfigError(f"{prefix}: give either every or cron, not both")
    if "every" in table:
        values["every"] = _duration(table, f"{prefix}.every", "every", minimum=1.0)
    if "cron" in table:
        expression = _string(table, f"{prefix}.cron", "cron")
        try:
            cron_trigger(expression, timezone)
        except ValueError as error:
            raise ConfigError(
                f'{prefix}.cron: bad cron expression "{expression}" ({error}; five fields:'
                " minute hour day month weekday, e.g. */15 * * * *)"
            ) from None
        values["cron"] = expression
        values["every"] = None
    if "jitter" in table:
        values["jitter"] = _duration(table, f"{prefix}.jitter", "jitter")
    if "timeout" in table:
        values["timeout"] = _duration(table, f"{prefix}.timeout", "timeout", minimum=1.0)
    if "delay" in table:
        values["delay"] = _duration(table, f"{prefix}.delay", "delay")
    if "concurrency" in table:
        values["concurrency"] = _whole(table, f"{prefix}.concurrency", "concurrency")
    if "max_pages" in table:
        values["max_pages"] = _whole(table, f"{prefix}.max_pages", "max_pages")
    if "pause_after" in table:
        raw = table["pause_after"]
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise ConfigError(
                f"{prefix}.pause_after: expected a whole number (0: never pause), got {show(raw)}"
            )
        values["pause_after"] = _whole(table, f"{prefix}.pause_after", "pause_after", minimum=0)
    if "pause_max" in table:
        values["pause_max"] = _duration(table, f"{prefix}.pause_max", "pause_max", minimum=1.0)
    if "settings" in table:
        settings = table["settings"]
        if not isinstance(settings, dict):
            raise ConfigError(
                f"{prefix}.settings: expected a table of Scrapy settings, got {show(settings)}"
            )
        for key in settings:
            if not _SETTING_NAME_RE.fullmatch(key):
                raise ConfigError(
                    f"{prefix}.settings.{key}: not a Scrapy setting name"
                    " (settings are UPPER_CASE, e.g. DOWNLOAD_TIMEOUT)"
                )
        values["settings"] = dict(settings)
    source = replace(source, **values)
    every, jitter = source.every, source.jitter
    if every is not None and jitter is not None and jitter >= every:
        raise ConfigError(
            f"{prefix}.jitter: {format_duration(jitter)} must be shorter than every"
            f" ({format_duration(every)})"
        )
    return source


# -- checks ------------------------------------------------------------------------------


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table ([{key}]), got {show(value)}")
    return value


def _string(table: Mapping[str, Any], name: str, key: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: expected a non-empty string, got {show(value)}")
    return value.strip()


def _url(table: Mapping[str, Any], name: str, key: str) -> str:
    value = table[key]
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected an http(s) URL, got {show(value)}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f'{name}: not an http(s) URL: "{value}"')
    return value.strip()


def _duration(
    table: Mapping[str, Any],
    name: str,
    key: str,
    *,
    minimum: float = 0.0,
    positive: bool = False,
) -> timedelta:
    value = table[key]
    try:
        duration = parse_duration(value)
    except DurationTooLong:
        raise ConfigError(too_long(name, value)) from None
    except ValueError:
        raise ConfigError(f"{name}: bad duration {show(value)} ({DURATION_HINT})") from None
    seconds = duration.total_seconds()
    if seconds < minimum or (positive and seconds <= 0):
        least = format_duration(timedelta(seconds=minimum)) if minimum else "more than 0s"
        raise ConfigError(f"{name}: {format_duration(duration)} is too short (at least {least})")
    return duration


def _whole(table: Mapping[str, Any], name: str, key: str, *, minimum: int = 1) -> int:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{name}: expected a whole number of at least {minimum}, got {show(value)}"
        )
    if value > MAX_WHOLE:
        raise ConfigError(f"{name}: {value} is too large (at most {MAX_WHOLE})")
    return value


def _database_url(value: str, base_dir: Path | None) -> str:
    """Check the scheme; a relative SQLite path is taken relative to the config file."""
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(
            f'database.url: not a database URL: "{value}"'
            " (use sqlite:///PATH or postgresql://USER@HOST/DB)"
        ) from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(
            f'database.url: unsupported database "{backend}"'
            " (use sqlite:///PATH or postgresql://USER@HOST/DB)"
        )
    database = url.database or ""
    if (
        backend == "sqlite"
        and base_dir is not None
        and database not in ("", ":memory:")
        and not database.startswith(("file:", "~"))
        and not Path(database).is_absolute()
    ):
        return url.set(database=str(base_dir / database)).render_as_string(hide_password=False)
    return value
