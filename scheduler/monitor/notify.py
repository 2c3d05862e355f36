"""Notification channels and the delivery of the outbox.

Targets, as written in the configuration:

- ``log``: one line in the daemon's log;
- ``webhook:URL``: a JSON POST to an http(s) URL (2xx is delivered). A 307 or 308 answer
  is followed with the same method, body and headers, to http(s) URLs, for at most
  :data:`MAX_REDIRECTS` hops; any other redirect (301, 302, 303, ...), a redirect loop or
  too many hops is a failure that is tried again later, like a 5xx;
- ``email:ADDRESS``: a plain-text mail through the ``[smtp]`` server.

Every notification is a row of the outbox (``notifications``) first. :func:`deliver_due`
sends the rows that are due; one that fails is tried again after 30 s, 1 min, 2 min, ...
(at most ``retry_max`` apart) until ``give_up_after`` has passed since it was queued, then
marked ``given_up``. A webhook answering 4xx (but 408, 425 and 429) or a mail server
refusing the recipient gives up at once: trying again cannot help (a 3xx never gives up at
once). A row being delivered is leased, so a daemon that dies while sending retries it
after the lease: delivery is at least once, never lost to a restart.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urljoin, urlsplit

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
from storage.monitor import MonitorStore, NotificationView

logger = logging.getLogger("notify")

SMTP_KEYS = ("from", "host", "password_env", "port", "ssl", "starttls", "timeout", "username")
NOTIFY_KEYS = ("give_up_after", "retry_first", "retry_max", "timeout")
USER_AGENT = "kcna-monitor notifier"
_EMAIL_RE = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
_RETRYABLE_HTTP = frozenset({408, 425, 429})
#: Redirects a webhook POST follows: they keep the method and the body (RFC 9110, 15.4).
_FOLLOWED_REDIRECTS = frozenset({307, 308})
#: How many 307/308 hops one webhook delivery follows at most.
MAX_REDIRECTS = 5


# -- configuration -----------------------------------------------------------------------


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


# -- channels ----------------------------------------------------------------------------


class DeliveryError(Exception):
    """A notification could not be sent; ``permanent`` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET: here every 3xx answer becomes an
    HTTPError, and :meth:`Notifier.post` decides what to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def subject(notification: NotificationView) -> str:
    data = notification.payload
    if data.get("type") == "health":
        state = "cleared" if notification.event == "cleared" else "alarm"
        return _one_line(f"[kcna-monitor] {data.get('source')}: {data.get('alarm')} {state}")
    return _one_line(
        f"[kcna-monitor] {notification.rule}: {notification.event}: {data.get('title', '')}"
    )


def body(notification: NotificationView) -> str:
    """The plain-text message of a notification (mail body)."""
    data = notification.payload
    if data.get("type") == "health":
        lines = [
            f"Source {data.get('source')}: {data.get('alarm')}"
            f" {'cleared' if notification.event == 'cleared' else 'alarm'}.",
            "",
            str(data.get("message", "")),
            "",
            f"Since:   {data.get('since')}",
        ]
        if data.get("cleared_at"):
            lines.append(f"Cleared: {data.get('cleared_at')}")
        return "\n".join(lines) + "\n"
    what = {"new": "a new article", "edited": "an edited article", "gone": "an article now gone"}
    lines = [
        f'Watch rule "{notification.rule}" matched'
        f" {what.get(notification.event, notification.event)}.",
        "",
        f"Title:     {_one_line(data.get('title', ''), 500)}",
        f"Published: {data.get('published') or 'unknown'}",
        f"URL:       {data.get('url')}",
        f"Article:   {data.get('article_id')} (version {data.get('version')})",
        f"Source:    {data.get('source')}",
    ]
    if data.get("snippet"):
        lines += ["", str(data["snippet"])]
    return "\n".join(lines) + "\n"


def log_line(notification: NotificationView) -> str:
    data = notification.payload
    if data.get("type") == "health":
        return _one_line(
            f"health {data.get('source')}: {data.get('alarm')}"
            f" {'cleared' if notification.event == 'cleared' else 'alarm'}:"
            f" {data.get('message', '')}",
            1000,
        )
    return _one_line(
        f'watch "{notification.rule}": {notification.event} article {data.get("article_id")}'
        f' "{data.get("title", "")}" {data.get("url")} — {data.get("snippet", "")}',
        1000,
    )


class Notifier:
    """Sends one notification to one target; raises :class:`DeliveryError` when it cannot."""

    def __init__(
        self, smtp: SmtpConfig | None = None, *, timeout: timedelta = timedelta(seconds=10)
    ) -> None:
        self.smtp = smtp
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, notification: NotificationView) -> None:
        target = notification.target
        kind, _, rest = target.partition(":")
        if target == "log":
            level = (
                logging.WARNING if notification.payload.get("type") == "health" else logging.INFO
            )
            logger.log(level, "%s", log_line(notification))
        elif kind == "webhook":
            self.post(rest, notification.payload)
        elif kind == "email":
            self.mail(rest, notification)
        else:
            raise DeliveryError(f"unknown target {target!r}", permanent=True)

    def post(self, url: str, data: dict[str, Any]) -> None:
        """POST ``data`` as JSON to ``url``, following 307 and 308 answers (same method, body
        and headers) for at most :data:`MAX_REDIRECTS` hops.

        Raises :class:`DeliveryError`: permanent for a 4xx but 408, 425 and 429 (at the
        first URL or at one redirected to); temporary for anything else, a 3xx that is not
        followed included, so the outbox tries again later.
        """
        payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
        visited = [url]
        while True:
            redirect = self._post_once(url, payload, first=visited[0])
            if redirect is None:
                return
            status, location = redirect
            if not location:
                raise DeliveryError(f"HTTP {status} without a Location to redirect to")
            target = urljoin(url, location)
            what = f"HTTP {status} (redirect to {_one_line(target, 300)})"
            if status not in _FOLLOWED_REDIRECTS:
                raise DeliveryError(f"{what}: not followed for a POST (only 307 and 308 are)")
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                raise DeliveryError(f"{what}: not an http(s) URL, not followed")
            if target in visited:
                raise DeliveryError(f"{what}: a redirect loop")
            if len(visited) > MAX_REDIRECTS:
                raise DeliveryError(f"{what}: more than {MAX_REDIRECTS} redirects")
            visited.append(target)
            url = target

    def _post_once(self, url: str, payload: bytes, *, first: str) -> tuple[int, str] | None:
        """One POST; None when it was delivered, ``(status, Location)`` for a 3xx answer.
        ``first`` is the configured URL, named in messages when ``url`` is another."""
        request = urllib.request.Request(
            url,
            data=payload,
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
            method="POST",
        )
        where = "" if url == first else f" at {_one_line(url, 300)} (redirected from {first})"
        try:
            with self._opener.open(request, timeout=self.timeout.total_seconds()) as response:
                response.read(65536)
            return None
        except urllib.error.HTTPError as error:
            status = error.code
            location = error.headers.get("Location", "") if error.headers else ""
            error.close()
            if 300 <= status < 400:
                return status, location.strip()
            permanent = 400 <= status < 500 and status not in _RETRYABLE_HTTP
            raise DeliveryError(f"HTTP {status}{where}", permanent=permanent) from None
        except urllib.error.URLError as error:
            reason = error.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise DeliveryError(_one_line(f"cannot reach {url}: {text}")) from None
        except (OSError, ValueError) as error:  # timeouts, resets, bad URLs
            message = _one_line(f"cannot reach {url}: {error or type(error).__name__}")
            raise DeliveryError(message) from None

    def mail(self, address: str, notification: NotificationView) -> None:
        smtp = self.smtp
        if smtp is None:
            raise DeliveryError("no [smtp] server configured", permanent=True)
        message = EmailMessage()
        message["From"] = smtp.sender
        message["To"] = address
        message["Subject"] = subject(notification)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="kcna-monitor")
        message.set_content(body(notification))
        timeout = smtp.timeout.total_seconds()
        try:
            client: smtplib.SMTP
            if smtp.ssl:
                client = smtplib.SMTP_SSL(
                    smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
            with client:
                if smtp.starttls:
                    client.starttls(context=ssl.create_default_context())
                if smtp.username:
                    password = smtp.password()
                    if password is None:
                        raise DeliveryError(
                            f"the environment variable {smtp.password_env} is not set"
                        )
                    client.login(smtp.username, password)
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = "; ".join(f"{code} {_decode(text)}" for code, text in error.recipients.values())
            raise DeliveryError(_one_line(f"{address} refused: {codes}"), permanent=True) from None
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code} {_decode(error.smtp_error)}"
            raise DeliveryError(_one_line(text), permanent=500 <= error.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                _one_line(f"cannot send mail through {smtp.host}:{smtp.port}: {error}")
            ) from None


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# -- delivery ----------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    given_up: int = 0


def deliver_due(
    store: MonitorStore,
    notifier: Notifier,
    policy: DeliveryPolicy,
    clock: Callable[[], datetime],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Send every notification that is due now; returns what became of them.

    ``should_stop`` is asked before each notification: once it answers True, the rest are
    left as they are (those already leased are tried again when the lease ends).
    """
    report = DeliveryReport()
    while True:
        if should_stop is not None and should_stop():
            return report
        now = clock()
        due = store.claim_due(now, lease_until=now + policy.lease, limit=policy.batch)
        for notification in due:
            if should_stop is not None and should_stop():
                return report
            _attempt(store, notifier, policy, clock, notification, report)
        if len(due) < policy.batch:
            return report


def _attempt(
    store: MonitorStore,
    notifier: Notifier,
    policy: DeliveryPolicy,
    clock: Callable[[], datetime],
    notification: NotificationView,
    report: DeliveryReport,
) -> None:
    try:
        notifier.send(notification)
    except DeliveryError as error:
        now = clock()
        attempts = notification.attempts + 1
        deadline = notification.created_at + policy.give_up_after
        if error.permanent or now >= deadline:
            why = (
                "cannot succeed"
                if error.permanent
                else (f"failing for {format_duration(now - notification.created_at)}")
            )
            logger.error(
                "notification %d (%s) to %s given up after %d attempts (%s): %s",
                notification.id,
                notification.rule,
                notification.target,
                attempts,
                why,
                error,
            )
            store.finish_attempt(notification.id, at=now, error=str(error))
            report.given_up += 1
            return
        retry_at = min(now + policy.retry_delay(attempts), deadline)
        logger.warning(
            "notification %d (%s) to %s failed (attempt %d), retrying in %s: %s",
            notification.id,
            notification.rule,
            notification.target,
            attempts,
            format_duration(retry_at - now),
            error,
        )
        store.finish_attempt(notification.id, at=now, error=str(error), retry_at=retry_at)
        report.retrying += 1
        return
    store.finish_attempt(notification.id, at=clock())
    report.delivered += 1
