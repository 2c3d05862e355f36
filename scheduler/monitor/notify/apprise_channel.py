"""Targets that are Apprise URLs: ``tgram://…``, ``slack://…``, ``mailto://…``, ``ntfys://…``
and every other service Apprise knows (https://github.com/caronc/apprise/wiki).

``${NAME}`` in such a target is replaced by the environment variable ``NAME``, as it is,
both when the configuration is read (the variable must be set) and when a notification is
sent, so that a token or a password need not be written in the file: the target is stored
with each notification as written, ``${NAME}`` included. A ``$`` not followed by ``{`` is
kept as it is.

A target is shown (in log lines and in the errors stored with a notification) as Apprise's
private form of its URL without the query: what Apprise counts as a secret (a password, a
bot token, a webhook key) is masked, and the values of the variables are replaced by
:data:`MASK` wherever they appear.

Apprise's ``notify`` says only whether it worked: a failure is tried again by the outbox,
until ``give_up_after``; what Apprise logged about it (its warnings and errors, masked) is
the error kept with the notification. A send is given the configured notification
timeout at most: an unfinished one is a failure tried again later.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any
from urllib.parse import quote, unquote

from scheduler.configtypes import format_duration
from scheduler.monitor.notify.common import DeliveryError, one_line
from scheduler.monitor.notify.payloads import AlarmPayload, Payload

#: What a secret is replaced with where a target or an error is shown.
MASK = "****"
#: Where the list of the services Apprise knows is.
SERVICES_URL = "https://github.com/caronc/apprise/wiki"

_VARIABLE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_URL_PARTS_RE = re.compile(r"[/:@?&=#]+")
_FAILURE_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})

logger = logging.getLogger("notify")


class ServiceUrlError(ValueError):
    """A target that is no URL Apprise can send to; the message is one line without any
    secret (the scheme is named, never the URL)."""


def is_service_url(target: str) -> bool:
    """Whether ``target`` is meant as an Apprise URL: ``scheme://…``, or a ``${NAME}`` that
    holds one."""
    return bool(_SCHEME_RE.match(target)) or target.startswith("${")


def expand(target: str, environ: Mapping[str, str] = os.environ) -> tuple[str, list[str]]:
    """``target`` with each ``${NAME}`` replaced by the environment variable, and the values
    put in (secrets). Raises :class:`ServiceUrlError` for a variable that is not set."""
    values: list[str] = []

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in environ:
            raise ServiceUrlError(f"the environment variable {name} is not set")
        values.append(environ[name])
        return environ[name]

    return _VARIABLE_RE.sub(value, target), values


def check(target: str) -> str:
    """``target`` as written, once Apprise has read it (config validation).
    Raises :class:`ServiceUrlError`."""
    Service.of(target)
    return target


@dataclass(frozen=True)
class Service:
    """A target read by Apprise: its notification service, how it is shown, its secrets."""

    plugin: Any  # an apprise NotifyBase
    shown: str
    secrets: tuple[str, ...]

    @classmethod
    def of(cls, target: str) -> Service:
        """Raises :class:`ServiceUrlError`."""
        url, values = expand(target)
        plugin = _library().Apprise.instantiate(url)
        if plugin is None:
            raise ServiceUrlError(_why_not(url))
        full, private = plugin.url(), plugin.url(privacy=True)
        hidden = set(_URL_PARTS_RE.split(full)) - set(_URL_PARTS_RE.split(private))
        found = {variant for s in (*values, *hidden) for variant in (s, unquote(s), quote(s))}
        secrets = tuple(sorted((s for s in found if s), key=len, reverse=True))
        return cls(plugin, _masked(private.split("?", 1)[0], secrets), secrets)

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the target masked."""
        return _masked(text, self.secrets)


def _masked(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def _why_not(url: str) -> str:
    """Why Apprise cannot send to ``url``, without a word of it but its scheme."""
    scheme_match = _SCHEME_RE.match(url)
    if scheme_match is None:  # a variable holding something else than a URL
        return f"not an Apprise URL (use e.g. tgram://TOKEN/CHAT, see {SERVICES_URL})"
    scheme = scheme_match.group(1).lower()
    plugins = _library().NotificationManager()
    if scheme not in plugins:
        if scheme in ("http", "https"):
            return (
                f'"{scheme}://" is no service Apprise knows: for a JSON POST to your own URL,'
                ' write "webhook:URL"'
            )
        return f'unknown notification service "{scheme}://" (see {SERVICES_URL})'
    guide = getattr(plugins[scheme], "setup_url", None) or SERVICES_URL
    return f"not a valid {scheme}:// URL (see {guide})"


def _library() -> ModuleType:
    """Apprise, imported at the first target that needs it rather than with this module: it
    takes a third of a second to load (its plugins with the first URL), which ``--help``, a
    read command or a configuration without Apprise targets should not pay.

    The log records of Apprise and of urllib3 (which Apprise's HTTP requests use) are kept
    from the daemon's log: they can name a secret (urllib3 logs the path of each request,
    where Telegram, for one, carries its bot token); what a failed send says is in the
    :class:`DeliveryError`, masked, and at DEBUG level in the ``notify`` log."""
    import apprise

    for name in (apprise.LOGGER_NAME, "urllib3"):
        quiet = logging.getLogger(name)
        quiet.propagate = False
        if not quiet.handlers:
            quiet.addHandler(logging.NullHandler())
    return apprise


class AppriseChannel:
    """Sends a payload's subject and body to an Apprise URL, within ``timeout``."""

    def __init__(self, timeout: timedelta = timedelta(seconds=10)) -> None:
        self.timeout = timeout

    def describe(self, target: str) -> str:
        """How log lines show ``target``: the secrets masked."""
        try:
            return Service.of(target).shown
        except ServiceUrlError:
            scheme = _SCHEME_RE.match(target)
            return f"{scheme.group(1)}://{MASK}" if scheme else MASK

    def send(self, target: str, payload: Payload) -> None:
        try:
            service = Service.of(target)
        except ServiceUrlError as error:  # the variable is gone, or Apprise changed
            raise DeliveryError(str(error)) from None
        apprise = _library()
        sender = apprise.Apprise()
        sender.add(service.plugin)
        debug = logger.isEnabledFor(logging.DEBUG)
        result = sender.notify(
            body=payload.body(),
            title=payload.subject(),
            notify_type=_notify_type(apprise, payload),
            body_format=apprise.NotifyFormat.TEXT,
            timeout=self.timeout.total_seconds(),
            log_level=logging.DEBUG if debug else logging.WARNING,
        )
        entries = [(entry.level, service.scrub(str(entry.message))) for entry in result.logs()]
        for level, message in entries:
            logger.debug("apprise %s %s: %s", level, service.shown, message)
        if result:
            return
        if result.status == apprise.AppriseResultStatus.TIMEOUT:
            reason = f"no answer within {format_duration(self.timeout)}"
        else:
            failures = [message for level, message in entries if level in _FAILURE_LEVELS]
            reason = "; ".join(dict.fromkeys(failures)) or "not sent"
        raise DeliveryError(one_line(f"{service.shown}: {reason}", 500))


def _notify_type(apprise: ModuleType, payload: Payload) -> Any:
    """A raised alarm is a warning, a cleared one a success, a watch match news."""
    if isinstance(payload, AlarmPayload):
        return apprise.NotifyType.WARNING if payload.raised else apprise.NotifyType.SUCCESS
    return apprise.NotifyType.INFO
