"""The configuration: a TOML file, validated before anything starts, and the database.

Where it is read from: ``--config FILE``, else ``$KCNA_MONITOR_CONFIG``, else
``$XDG_CONFIG_HOME/kcna-monitor/config.toml`` (``~/.config/kcna-monitor/config.toml``).
A file named by ``--config`` or the variable must exist; the default file is optional, and
without it every source runs on its defaults. See ``contrib/config.example.toml``.

:class:`ConfigFile` is the model of the file (pydantic): ``[database]``, ``[daemon]``,
``[sources.NAME]``, and the monitoring sections ``[[watch]]``, ``[smtp]``, ``[notify]`` and
``[health]``, whose tables are defined next to the code that uses them. :func:`load` reads
it into a :class:`Config`. Every mistake is one :class:`ConfigError` line naming the key and
what is allowed, e.g. ``sources.kcna.every: bad duration "15 minutes" (use e.g. 30s, 15m,
2h)``; a key the model does not know is a mistake too.

Every command opens the same database: :meth:`Config.resolve_db`, ``--db`` >
``$KCNA_MONITOR_DB`` > ``[database] url`` > the default SQLite file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crawler.settings import default_database_url
from crawler.sources import SOURCES, allowed_hosts, known
from scheduler.configtypes import (
    ConfigError,
    Flag,
    HttpUrl,
    Section,
    duration,
    format_duration,
    http_url,
    listed,
    mistake,
    non_empty,
    not_a_table,
    one_line,
    show,
    whole,
)
from scheduler.monitor.health import HealthConfig
from scheduler.monitor.notify.settings import DeliveryPolicy, SmtpConfig
from scheduler.monitor.watch import WatchRule

ENV_CONFIG = "KCNA_MONITOR_CONFIG"
ENV_DB = "KCNA_MONITOR_DB"

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
_SETTING_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")
_DATABASES = "use sqlite:///PATH or postgresql://USER@HOST/DB"


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/kcna-monitor/config.toml`` (``~/.config/...`` when unset)."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "kcna-monitor" / "config.toml"


def cron_trigger(expression: str, timezone: str = DEFAULT_TIMEZONE) -> CronTrigger:
    """The trigger of a five-field crontab expression; ValueError says what is wrong."""
    return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))


# -- values ------------------------------------------------------------------------------


def _timezone(value: Any) -> str:
    zone = non_empty(value)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise mistake(f'unknown time zone "{zone}" (use e.g. UTC, Europe/Berlin)') from None
    return zone


def _cron(value: Any) -> str | None:
    if value is None:
        return None
    expression = non_empty(value)
    try:
        cron_trigger(expression)
    except ValueError as error:
        raise mistake(
            f'bad cron expression "{expression}" ({error}; five fields:'
            " minute hour day month weekday, e.g. */15 * * * *)"
        ) from None
    return expression


def _base_url(value: Any) -> str | None:
    return None if value is None else http_url(value).rstrip("/")


def _scrapy_settings(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise mistake(f"expected a table of Scrapy settings, got {show(value)}")
    for key in value:
        if not _SETTING_NAME_RE.fullmatch(key):
            raise mistake(
                "not a Scrapy setting name (settings are UPPER_CASE, e.g. DOWNLOAD_TIMEOUT)",
                at=key,
            )
    return dict(value)


def _known_source(value: Any) -> str:
    if value not in SOURCES:
        raise mistake(f"unknown source (known: {known()})")
    return str(value)


def _database_url(value: Any) -> str | None:
    """Checks the scheme (a relative SQLite path is made relative to the file by :func:`load`)."""
    if value is None:
        return None
    text = non_empty(value)
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise mistake(f'not a database URL: "{text}" ({_DATABASES})') from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise mistake(f'unsupported database "{backend}" ({_DATABASES})')
    return text


# -- sections ----------------------------------------------------------------------------


class DatabaseSection(Section):
    """``[database]``."""

    url: Annotated[str | None, BeforeValidator(_database_url)] = None


class DaemonConfig(Section):
    """``[daemon]``."""

    timezone: Annotated[str, BeforeValidator(_timezone)] = DEFAULT_TIMEZONE
    #: How long a running crawl may go on after a stop is asked for.
    stop_grace: Annotated[timedelta, duration()] = DEFAULT_STOP_GRACE
    #: How late a scheduled run may start (None: up to one interval, so a missed run
    #: after a suspend or a busy spell happens once rather than not at all).
    misfire_grace: Annotated[timedelta | None, duration(positive=True)] = None


class SourceConfig(Section):
    """``[sources.NAME]``: how one source is crawled: where from, how often, how politely,
    for how long."""

    internal: ClassVar[frozenset[str]] = frozenset({"name"})

    name: Annotated[str, BeforeValidator(_known_source)]
    enabled: Flag = True
    #: None: the source's public site.
    base_url: Annotated[str | None, BeforeValidator(_base_url)] = None
    #: Empty: the source's own listing pages.
    start_urls: Annotated[tuple[HttpUrl, ...], listed("a list of URLs")] = ()
    #: Neither ``every`` nor ``cron`` given: the source's default interval.
    every: Annotated[timedelta | None, duration(minimum=1.0)] = None
    cron: Annotated[str | None, BeforeValidator(_cron)] = None
    #: None: a share of the interval (see :attr:`effective_jitter`).
    jitter: Annotated[timedelta | None, duration()] = None
    timeout: Annotated[timedelta, duration(minimum=1.0)] = DEFAULT_TIMEOUT
    delay: Annotated[timedelta, duration()] = DEFAULT_DELAY
    concurrency: Annotated[int, whole()] = DEFAULT_CONCURRENCY
    max_pages: Annotated[int | None, whole()] = None
    #: After this many failed runs in a row the source pauses, for one interval at first,
    #: doubling with each further failure up to ``pause_max`` (0: never pause).
    pause_after: Annotated[int, whole(minimum=0, expected="a whole number (0: never pause)")] = (
        DEFAULT_PAUSE_AFTER
    )
    pause_max: Annotated[timedelta, duration(minimum=1.0)] = DEFAULT_PAUSE_MAX
    settings: Annotated[dict[str, Any], BeforeValidator(_scrapy_settings)] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.every is not None and self.cron is not None:
            raise mistake("give either every or cron, not both")
        hosts = allowed_hosts([self.name], self.base_url)
        for index, url in enumerate(self.start_urls):
            if (urlsplit(url).hostname or "").lower() not in hosts:
                raise mistake(
                    f'"{url}" is not on an allowed host (allowed: {", ".join(sorted(hosts))};'
                    " a mirror's host with base_url)",
                    at=("start_urls", index),
                )
        source = self
        if self.every is None and self.cron is None:
            source = self.model_copy(update={"every": SOURCES[self.name].every})
        every, jitter = source.every, source.jitter
        if every is not None and jitter is not None and jitter >= every:
            raise mistake(
                f"{format_duration(jitter)} must be shorter than every ({format_duration(every)})",
                at="jitter",
            )
        return source

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


def _named_sources(value: Any) -> dict[str, Any]:
    """Every known source's table (``{}`` for one the file leaves out), named."""
    if not isinstance(value, dict):
        raise not_a_table(value)
    tables: dict[str, Any] = {name: {"name": name} for name in SOURCES}
    for name, table in value.items():
        if name not in SOURCES:
            raise mistake(f"unknown source (known: {known()})", at=name)
        if isinstance(table, dict):
            if "name" in table:
                allowed = ", ".join(SourceConfig.file_keys())
                raise mistake(f"unknown key (allowed: {allowed})", at=(name, "name"))
            table = {**table, "name": name}
        tables[name] = table
    return tables


def _unique_names(rules: tuple[WatchRule, ...]) -> tuple[WatchRule, ...]:
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.name in seen:
            raise mistake(f'another rule is named "{rule.name}" already', at=(index, "name"))
        seen.add(rule.name)
    return rules


class ConfigFile(Section):
    """The configuration file."""

    database: DatabaseSection = Field(default_factory=DatabaseSection)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    sources: Annotated[dict[str, SourceConfig], BeforeValidator(_named_sources)] = Field(
        default_factory=dict, validate_default=True
    )
    smtp: SmtpConfig | None = None
    watch: Annotated[
        tuple[WatchRule, ...], listed("[[watch]] tables"), AfterValidator(_unique_names)
    ] = ()
    notify: DeliveryPolicy = Field(default_factory=DeliveryPolicy)
    health: HealthConfig = Field(default_factory=HealthConfig)

    @model_validator(mode="after")
    def _consistent(self) -> ConfigFile:
        if self.smtp is None:
            for at, target in self._targets():
                if target.startswith("email:"):
                    raise mistake("email needs an [smtp] section (host, from)", at=at)
        if not any(source.enabled for source in self.sources.values()):
            raise mistake(
                f"every source is disabled; enable at least one of {known()}", at="sources"
            )
        return self

    def _targets(self) -> list[tuple[tuple[str | int, ...], str]]:
        targets: list[tuple[tuple[str | int, ...], str]] = []
        for index, rule in enumerate(self.watch):
            targets += [(("watch", index, "notify", n), t) for n, t in enumerate(rule.notify)]
        targets += [(("health", "notify", n), t) for n, t in enumerate(self.health.notify)]
        return targets


# -- the configuration -------------------------------------------------------------------


@dataclass(frozen=True)
class MonitoringConfig:
    """The monitoring sections: watch rules, where and how notifications go, health."""

    watch: tuple[WatchRule, ...] = ()
    smtp: SmtpConfig | None = None
    notify: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    health: HealthConfig = field(default_factory=HealthConfig)

    def rule(self, name: str) -> WatchRule | None:
        return next((r for r in self.watch if r.name == name), None)


@dataclass(frozen=True)
class Config:
    """A configuration as read: the file it came from, its database and sections."""

    path: Path | None
    #: ``[database] url``, a relative SQLite path made relative to the file.
    database_url: str | None
    daemon: DaemonConfig
    sources: dict[str, SourceConfig]
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)

    def enabled_sources(self) -> list[SourceConfig]:
        return [source for source in self.sources.values() if source.enabled]

    def resolve_db(self, cli_db: str | None = None) -> str:
        """``--db`` > ``$KCNA_MONITOR_DB`` > ``[database] url`` > the default SQLite file."""
        return cli_db or os.environ.get(ENV_DB) or self.database_url or default_database_url()


def locate(cli_path: str | None) -> tuple[Path, bool]:
    """The file to read and whether it must exist (named explicitly) or is optional."""
    if cli_path:
        return Path(cli_path).expanduser(), True
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return Path(from_env).expanduser(), True
    return default_config_path(), False


def load(cli_path: str | None = None) -> Config:
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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        where = str(path) if path is not None else "config"
        raise ConfigError(f"{where}: not valid TOML: {error}") from None
    return validate(data, path=path)


def validate(data: Mapping[str, Any], *, path: Path | None = None) -> Config:
    """Validate a configuration document (the TOML file as a mapping)."""
    try:
        document = ConfigFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(one_line(error)) from None
    base_dir = path.resolve().parent if path is not None else None
    return Config(
        path=path,
        database_url=_relative_to(document.database.url, base_dir),
        daemon=document.daemon,
        sources=dict(document.sources),
        monitoring=MonitoringConfig(
            watch=document.watch,
            smtp=document.smtp,
            notify=document.notify,
            health=document.health,
        ),
    )


def default_config() -> Config:
    """Every source enabled on its defaults; the database from the environment or default."""
    return validate({})


def _relative_to(value: str | None, base_dir: Path | None) -> str | None:
    """A SQLite URL with a relative path is taken relative to the configuration file."""
    if value is None or base_dir is None:
        return value
    url = make_url(value)
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith(("file:", "~"))
        and not Path(database).is_absolute()
    ):
        return url.set(database=str(base_dir / database)).render_as_string(hide_password=False)
    return value
