"""The ``[smtp]`` and ``[notify]`` sections and the notification targets, as written in the
configuration (``log``, ``webhook:URL``, ``email:ADDRESS``, or an Apprise URL such as
``tgram://${TELEGRAM_TOKEN}/CHAT``: :mod:`.apprise_channel`)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from scheduler.configtypes import (
    Flag,
    Section,
    Text,
    duration,
    each_once,
    format_duration,
    http_url,
    listed,
    mistake,
    non_empty,
    whole,
)
from scheduler.monitor.notify.apprise_channel import ServiceUrlError, check, is_service_url

_EMAIL_RE = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


def _target(value: Any) -> str:
    """``log``, ``webhook:URL``, ``email:ADDRESS`` or an Apprise URL (read by Apprise: its
    variables must be set). That an email target needs ``[smtp]`` is checked with the whole
    file (:class:`scheduler.config.ConfigFile`)."""
    text = non_empty(value)
    if text == "log":
        return text
    kind, _, rest = text.partition(":")
    if kind == "webhook":
        return "webhook:" + http_url(rest)
    if kind == "email":
        address = rest.strip()
        if not _EMAIL_RE.fullmatch(address):
            raise mistake(f'not an email address: "{address}"')
        return "email:" + address
    if is_service_url(text):
        try:
            return check(text)
        except ServiceUrlError as error:
            raise mistake(str(error)) from None
    raise mistake(
        f'unknown target "{text}" (use "log", "webhook:https://...", "email:someone@example.org"'
        ' or an Apprise URL such as "tgram://${TELEGRAM_TOKEN}/CHAT")'
    )


#: Where notifications go, each target once (``notify = ["log", "webhook:..."]``).
Targets = Annotated[
    tuple[Annotated[str, BeforeValidator(_target)], ...],
    listed("a list of targets"),
    AfterValidator(each_once),
]


def _sender(value: Any) -> str:
    sender = non_empty(value)
    if not _EMAIL_RE.search(sender):
        raise mistake(f'not an email address: "{sender}"')
    return sender


def _environment_variable(value: Any) -> str:
    name = non_empty(value)
    if name not in os.environ:
        raise mistake(f"the environment variable {name} is not set")
    return name


class SmtpConfig(Section):
    """The ``[smtp]`` table. The password is never in the file: ``password_env`` names the
    environment variable that holds it."""

    needs: ClassVar[str] = "[smtp] needs host and from"

    host: Text
    sender: Annotated[str, BeforeValidator(_sender)] = Field(alias="from")
    #: None (not given): 465 with ``ssl``, 587 with ``starttls``, else 25.
    port: Annotated[int | None, whole(maximum=65535)] = None
    username: Text | None = None
    #: The environment variable holding the password.
    password_env: Annotated[str | None, BeforeValidator(_environment_variable)] = None
    starttls: Flag = False
    ssl: Flag = False  # SMTP over TLS from the start (port 465)
    timeout: Annotated[timedelta, duration(positive=True)] = timedelta(seconds=30)

    @model_validator(mode="after")
    def _consistent(self) -> SmtpConfig:
        if self.ssl and self.starttls:
            raise mistake("give either ssl or starttls, not both")
        if self.password_env and not self.username:
            raise mistake("set smtp.username too", at="password_env")
        if self.port is None:
            return self.model_copy(
                update={"port": 465 if self.ssl else 587 if self.starttls else 25}
            )
        return self

    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


class DeliveryPolicy(Section):
    """The ``[notify]`` table: how failed notifications are retried (all optional)."""

    #: Notifications claimed at a time.
    batch: ClassVar[int] = 50

    retry_first: Annotated[timedelta, duration(positive=True)] = timedelta(seconds=30)
    retry_max: Annotated[timedelta, duration(positive=True)] = timedelta(hours=1)
    give_up_after: Annotated[timedelta, duration(positive=True)] = timedelta(days=2)
    #: Of one webhook request, or of one Apprise notification.
    timeout: Annotated[timedelta, duration(positive=True)] = timedelta(seconds=10)

    @model_validator(mode="after")
    def _ordered(self) -> DeliveryPolicy:
        if self.retry_max < self.retry_first:
            raise mistake(
                f"{format_duration(self.retry_max)} is shorter than"
                f" retry_first ({format_duration(self.retry_first)})",
                at="retry_max",
            )
        return self

    @property
    def lease(self) -> timedelta:
        """How long a row being sent is kept from other deliverers."""
        return max(timedelta(minutes=5), self.timeout * 4)

    def retry_delay(self, attempts: int) -> timedelta:
        """The pause after the ``attempts``-th failed attempt (1, 2, ...)."""
        factor = 2 ** min(max(attempts - 1, 0), 30)
        return min(self.retry_first * factor, self.retry_max)
