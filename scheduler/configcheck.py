"""Checks shared by the monitoring sections of the configuration ([[watch]], [smtp],
[notify], [health]): one-line errors that name the key, in the style of
:mod:`scheduler.config`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from scheduler.crawl.options import OptionError

DURATION_HINT = "use e.g. 30s, 15m, 2h"


class ConfigError(OptionError):
    """The configuration cannot be used; the message is one line naming the key."""


#: The name the monitoring sections' parsers raise it under.
WatchConfigError = ConfigError


def show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


def check_keys(table: Mapping[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            name = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"{name}: unknown key (allowed: {', '.join(allowed)})")


def table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WatchConfigError(f"{name}: expected a table ([{name}]), got {show(value)}")
    return value


def string(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WatchConfigError(f"{name}: expected a non-empty string, got {show(value)}")
    return value.strip()


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise WatchConfigError(f"{name}: expected true or false, got {show(value)}")
    return value


def duration(value: Any, name: str, *, positive: bool = True) -> timedelta:
    # imported late: config imports this package
    from scheduler.config import DurationTooLong, parse_duration, too_long

    try:
        parsed = parse_duration(value)
    except DurationTooLong:
        raise WatchConfigError(too_long(name, value)) from None
    except (ValueError, TypeError):
        raise WatchConfigError(f"{name}: bad duration {show(value)} ({DURATION_HINT})") from None
    if positive and parsed.total_seconds() <= 0:
        raise WatchConfigError(f"{name}: must be longer than 0s")
    return parsed


def whole(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    from scheduler.config import MAX_WHOLE

    if maximum is None:
        maximum = MAX_WHOLE
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise WatchConfigError(
            f"{name}: expected a whole number of at least {minimum}, got {show(value)}"
        )
    if value > maximum:
        raise WatchConfigError(f"{name}: {value} is too large (at most {maximum})")
    return value


def http_url(value: Any, name: str) -> str:
    text = string(value, name)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WatchConfigError(f'{name}: not an http(s) URL: "{text}"')
    return text


def format_duration(value: timedelta) -> str:
    from scheduler.config import format_duration as config_format

    return config_format(value)
