"""The configuration: a TOML file, validated before anything starts, and the database.

Where it is read from: ``--config FILE``, else ``$KCNA_MONITOR_CONFIG``, else
``$XDG_CONFIG_HOME/kcna-monitor/config.toml`` (``~/.config/kcna-monitor/config.toml``).
A file named by ``--config`` or the variable must exist; the default file is optional, and
without it every source runs on its defaults. See ``contrib/config.example.toml``.

:class:`ConfigFile` is the model of the file (pydantic): ``[database]``, and the sections
defined next to the code that uses them: ``[daemon]``, ``[cluster]`` and ``[sources.NAME]``
(:mod:`scheduler.daemon.settings`), ``[[watch]]`` (:mod:`scheduler.monitor.watch`),
``[smtp]`` and ``[notify]`` (:mod:`scheduler.monitor.notify.settings`), ``[health]``
(:mod:`scheduler.monitor.health`), ``[web]`` (:mod:`scheduler.web.settings`). :func:`load` reads
it into a :class:`Config`. Every mistake is one :class:`ConfigError` line naming the key and
what is allowed, e.g. ``sources.kcna.every: bad duration "15 minutes" (use e.g. 30s, 15m,
2h)``; a key the model does not know is a mistake too.

Every command opens the same database (:func:`resolve_db`): ``--db`` > ``$KCNA_MONITOR_DB`` >
``[database] url`` > the default SQLite file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crawler.settings import default_database_url
from crawler.sources import SOURCES, known
from scheduler.configtypes import (
    ConfigError,
    Section,
    listed,
    mistake,
    non_empty,
    not_a_table,
    one_line,
)
from scheduler.daemon.settings import ClusterConfig, DaemonConfig, SourceConfig
from scheduler.monitor.health import HealthConfig
from scheduler.monitor.notify.settings import DeliveryPolicy, SmtpConfig
from scheduler.monitor.watch import WatchRule
from scheduler.web.settings import WebConfig

ENV_CONFIG = "KCNA_MONITOR_CONFIG"
ENV_DB = "KCNA_MONITOR_DB"

_DATABASES = "use sqlite:///PATH or postgresql://USER@HOST/DB"


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/kcna-monitor/config.toml`` (``~/.config/...`` when unset)."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "kcna-monitor" / "config.toml"


# -- values ------------------------------------------------------------------------------


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
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    sources: Annotated[dict[str, SourceConfig], BeforeValidator(_named_sources)] = Field(
        default_factory=dict, validate_default=True
    )
    smtp: SmtpConfig | None = None
    watch: Annotated[
        tuple[WatchRule, ...], listed("[[watch]] tables"), AfterValidator(_unique_names)
    ] = ()
    notify: DeliveryPolicy = Field(default_factory=DeliveryPolicy)
    health: HealthConfig = Field(default_factory=HealthConfig)
    web: WebConfig = Field(default_factory=WebConfig)

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
    web: WebConfig = field(default_factory=WebConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    def digest(self) -> str:
        """A hash of the effective configuration (every section, defaults filled in; not
        where it was read from): daemons sharing an archive compare theirs."""
        sections = {
            "daemon": self.daemon,
            "cluster": self.cluster,
            "sources": self.sources,
            "watch": self.monitoring.watch,
            "smtp": self.monitoring.smtp,
            "notify": self.monitoring.notify,
            "health": self.monitoring.health,
            "web": self.web,
        }
        document = {
            "database": self.database_url,
            **{name: _dumped(value) for name, value in sections.items()},
        }
        text = json.dumps(document, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def enabled_sources(self) -> list[SourceConfig]:
        return [source for source in self.sources.values() if source.enabled]

    def resolve_db(self, cli_db: str | None = None) -> str:
        """The database of this configuration's commands (see :func:`resolve_db`)."""
        return _database(cli_db, lambda: self.database_url)


def _dumped(value: Any) -> Any:
    """A section (or a mapping or tuple of them) as plain JSON data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: _dumped(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_dumped(item) for item in value]
    return value


def resolve_db(cli_db: str | None = None, cli_config: str | None = None) -> str:
    """The database every command opens: ``--db`` > ``$KCNA_MONITOR_DB`` > ``[database] url``
    of the configuration (``--config``, else found as :func:`load` finds it; read only when
    neither of the first two is given) > the default SQLite file."""
    return _database(cli_db, lambda: load(cli_config).database_url)


def _database(cli_db: str | None, configured: Callable[[], str | None]) -> str:
    return cli_db or os.environ.get(ENV_DB) or configured() or default_database_url()


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
        cluster=document.cluster,
        sources=dict(document.sources),
        monitoring=MonitoringConfig(
            watch=document.watch,
            smtp=document.smtp,
            notify=document.notify,
            health=document.health,
        ),
        web=document.web,
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
