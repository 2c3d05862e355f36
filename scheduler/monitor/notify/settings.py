"""The ``[smtp]`` and ``[notify]`` sections and the notification targets, as written in the
configuration (``log``, ``webhook:URL``, ``email:ADDRESS``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from scheduler.configcheck import (
    WatchConfigError,
    boolean,
    check_keys,
    duration,
    format_duration,
    http_url,
    show,
    string,
    whole,
)

SMTP_KEYS = ("from", "host", "password_env", "port", "ssl", "starttls", "timeout", "username")
NOTIFY_KEYS = ("give_up_after", "retry_first", "retry_max", "timeout")
_EMAIL_RE = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    sender: str
    port: int = 25
    username: str | None = None
    password_env: str | None = None  # the environment variable holding the password
    starttls: bool = False
    ssl: bool = False  # SMTP over TLS from the start (port 465)
    timeout: timedelta = timedelta(seconds=30)

    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


@dataclass(frozen=True)
class DeliveryPolicy:
    retry_first: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=2)
    timeout: timedelta = timedelta(seconds=10)  # of one webhook request
    batch: int = 50

    @property
    def lease(self) -> timedelta:
        """How long a row being sent is kept from other deliverers."""
        return max(timedelta(minutes=5), self.timeout * 4)

    def retry_delay(self, attempts: int) -> timedelta:
        """The pause after the ``attempts``-th failed attempt (1, 2, ...)."""
        factor = 2 ** min(max(attempts - 1, 0), 30)
        return min(self.retry_first * factor, self.retry_max)


def parse_target(value: Any, name: str, *, smtp: bool) -> str:
    text = string(value, name)
    if text == "log":
        return text
    kind, _, rest = text.partition(":")
    if kind == "webhook":
        return "webhook:" + http_url(rest, name)
    if kind == "email":
        address = rest.strip()
        if not _EMAIL_RE.fullmatch(address):
            raise WatchConfigError(f'{name}: not an email address: "{address}"')
        if not smtp:
            raise WatchConfigError(f"{name}: email needs an [smtp] section (host, from)")
        return "email:" + address
    raise WatchConfigError(
        f'{name}: unknown target "{text}" (use "log", "webhook:https://..." or'
        ' "email:someone@example.org")'
    )


def parse_targets(raw: Any, name: str, *, smtp: bool) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise WatchConfigError(f"{name}: expected a list of targets, got {show(raw)}")
    targets = [parse_target(value, f"{name}[{i}]", smtp=smtp) for i, value in enumerate(raw)]
    return tuple(dict.fromkeys(targets))


def parse_smtp(raw: Any) -> SmtpConfig | None:
    """The ``[smtp]`` table (None when absent). The password is never in the file: name the
    environment variable that holds it with ``password_env``."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise WatchConfigError(f"smtp: expected a table ([smtp]), got {show(raw)}")
    check_keys(raw, "smtp", SMTP_KEYS)
    for key in ("host", "from"):
        if key not in raw:
            raise WatchConfigError(f"smtp.{key}: missing ([smtp] needs host and from)")
    sender = string(raw["from"], "smtp.from")
    if not _EMAIL_RE.search(sender):
        raise WatchConfigError(f'smtp.from: not an email address: "{sender}"')
    use_ssl = boolean(raw.get("ssl", False), "smtp.ssl")
    starttls = boolean(raw.get("starttls", False), "smtp.starttls")
    if use_ssl and starttls:
        raise WatchConfigError("smtp: give either ssl or starttls, not both")
    default_port = 465 if use_ssl else 587 if starttls else 25
    port = whole(raw.get("port", default_port), "smtp.port", maximum=65535)
    username = string(raw["username"], "smtp.username") if "username" in raw else None
    password_env = None
    if "password_env" in raw:
        password_env = string(raw["password_env"], "smtp.password_env")
        if password_env not in os.environ:
            raise WatchConfigError(
                f"smtp.password_env: the environment variable {password_env} is not set"
            )
    if password_env and not username:
        raise WatchConfigError("smtp.password_env: set smtp.username too")
    timeout = duration(raw.get("timeout", "30s"), "smtp.timeout")
    return SmtpConfig(
        host=string(raw["host"], "smtp.host"),
        sender=sender,
        port=port,
        username=username,
        password_env=password_env,
        starttls=starttls,
        ssl=use_ssl,
        timeout=timeout,
    )


def parse_notify(raw: Any) -> DeliveryPolicy:
    """The ``[notify]`` table: how failed notifications are retried (all optional)."""
    if raw is None:
        return DeliveryPolicy()
    if not isinstance(raw, dict):
        raise WatchConfigError(f"notify: expected a table ([notify]), got {show(raw)}")
    check_keys(raw, "notify", NOTIFY_KEYS)
    policy = DeliveryPolicy()
    values = {key: duration(raw[key], f"notify.{key}") for key in NOTIFY_KEYS if key in raw}
    policy = DeliveryPolicy(**{**policy.__dict__, **values})
    if policy.retry_max < policy.retry_first:
        raise WatchConfigError(
            f"notify.retry_max: {format_duration(policy.retry_max)} is shorter than"
            f" retry_first ({format_duration(policy.retry_first)})"
        )
    return policy
