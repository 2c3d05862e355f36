"""What a notification says, one type per kind: a watch rule matching a new or edited article
(:class:`MatchPayload`), an article a rule matched now gone (:class:`GonePayload`), a source's
health alarm raised or cleared (:class:`AlarmPayload`).

A payload is stored in its outbox row as JSON (:meth:`to_json`), which is also the body a
webhook receives, and read back for the mail and the log line (:func:`read_payload`). The keys
are those every earlier version wrote, so rows queued before an upgrade are delivered as they
were:

- watch (``"type": "watch"``): ``rule``, ``event`` (new, edited, gone), ``article_id``,
  ``version``, ``title``, ``url``, ``published`` (a date or null), ``source``, ``snippet``,
  ``at`` (when the article event happened);
- health (``"type": "health"``): ``event`` (alarm, cleared), ``source``, ``alarm``,
  ``message``, ``since``, ``cleared_at`` (null while raised).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Self

from scheduler.monitor.notify.common import one_line
from storage.records import utc_iso

WATCH = "watch"
HEALTH = "health"


class PayloadError(ValueError):
    """A stored payload that is none of the kinds (missing keys, values of the wrong type)."""


@dataclass(frozen=True, kw_only=True)
class _ArticlePayload(ABC):
    """What the notifications of a watch rule say about an article."""

    #: The log level of the ``log`` target.
    log_level: ClassVar[int] = logging.INFO

    rule: str
    article_id: str
    version: int
    title: str
    url: str
    published: date | None
    source: str  # the article's source label (e.g. "KCNA.kp (En)")
    snippet: str
    at: datetime  # when the article event happened

    @property
    @abstractmethod
    def event(self) -> str:
        """new, edited or gone."""

    @property
    @abstractmethod
    def what(self) -> str:
        """How the mail body names the article."""

    def to_json(self) -> dict[str, Any]:
        return {
            "type": WATCH,
            "rule": self.rule,
            "event": self.event,
            "article_id": self.article_id,
            "version": self.version,
            "title": self.title,
            "url": self.url,
            "published": self.published.isoformat() if self.published else None,
            "source": self.source,
            "snippet": self.snippet,
            "at": utc_iso(self.at),
        }

    @staticmethod
    def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
        published = data["published"]
        return {
            "rule": str(data["rule"]),
            "article_id": str(data["article_id"]),
            "version": int(data["version"]),
            "title": str(data["title"]),
            "url": str(data["url"]),
            "published": date.fromisoformat(published) if published else None,
            "source": str(data["source"]),
            "snippet": str(data["snippet"] or ""),
            "at": datetime.fromisoformat(data["at"]),
        }

    def subject(self) -> str:
        return one_line(f"[kcna-monitor] {self.rule}: {self.event}: {self.title}")

    def body(self) -> str:
        """The plain-text message (mail body)."""
        lines = [
            f'Watch rule "{self.rule}" matched {self.what}.',
            "",
            f"Title:     {one_line(self.title, 500)}",
            f"Published: {self.published.isoformat() if self.published else 'unknown'}",
            f"URL:       {self.url}",
            f"Article:   {self.article_id} (version {self.version})",
            f"Source:    {self.source}",
        ]
        if self.snippet:
            lines += ["", self.snippet]
        return "\n".join(lines) + "\n"

    def log_line(self) -> str:
        return one_line(
            f'watch "{self.rule}": {self.event} article {self.article_id}'
            f' "{self.title}" {self.url} — {self.snippet}',
            1000,
        )


@dataclass(frozen=True, kw_only=True)
class MatchPayload(_ArticlePayload):
    """A watch rule matched a new article, or a new version of one (``edited``)."""

    edited: bool  # False: a new article

    @property
    def event(self) -> str:
        return "edited" if self.edited else "new"

    @property
    def what(self) -> str:
        return "an edited article" if self.edited else "a new article"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        event = data["event"]
        if event not in ("new", "edited"):
            raise PayloadError(f"not an event of a watch match: {event!r}")
        return cls(edited=event == "edited", **cls._fields(data))


@dataclass(frozen=True, kw_only=True)
class GonePayload(_ArticlePayload):
    """An article that a watch rule matched is gone from its site."""

    @property
    def event(self) -> str:
        return "gone"

    @property
    def what(self) -> str:
        return "an article now gone"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(**cls._fields(data))


@dataclass(frozen=True, kw_only=True)
class AlarmPayload:
    """A source's health alarm, raised or cleared."""

    log_level: ClassVar[int] = logging.WARNING

    raised: bool  # False: cleared
    source: str
    alarm: str  # the kind: quiet, empty-listings, parse-failures
    message: str
    since: datetime
    cleared_at: datetime | None = None

    @property
    def event(self) -> str:
        return "alarm" if self.raised else "cleared"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": HEALTH,
            "event": self.event,
            "source": self.source,
            "alarm": self.alarm,
            "message": self.message,
            "since": utc_iso(self.since),
            "cleared_at": utc_iso(self.cleared_at) if self.cleared_at else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        event = data["event"]
        if event not in ("alarm", "cleared"):
            raise PayloadError(f"not an event of a health alarm: {event!r}")
        cleared_at = data["cleared_at"]
        return cls(
            raised=event == "alarm",
            source=str(data["source"]),
            alarm=str(data["alarm"]),
            message=str(data["message"]),
            since=datetime.fromisoformat(data["since"]),
            cleared_at=datetime.fromisoformat(cleared_at) if cleared_at else None,
        )

    def subject(self) -> str:
        return one_line(f"[kcna-monitor] {self.source}: {self.alarm} {self.event}")

    def body(self) -> str:
        """The plain-text message (mail body)."""
        lines = [
            f"Source {self.source}: {self.alarm} {self.event}.",
            "",
            self.message,
            "",
            f"Since:   {utc_iso(self.since)}",
        ]
        if self.cleared_at:
            lines.append(f"Cleared: {utc_iso(self.cleared_at)}")
        return "\n".join(lines) + "\n"

    def log_line(self) -> str:
        return one_line(f"health {self.source}: {self.alarm} {self.event}: {self.message}", 1000)


Payload = MatchPayload | GonePayload | AlarmPayload


def read_payload(data: Mapping[str, Any]) -> Payload:
    """The payload an outbox row stores. Raises :class:`PayloadError`."""
    try:
        if data.get("type") == HEALTH:
            return AlarmPayload.from_json(data)
        if data.get("event") == "gone":
            return GonePayload.from_json(data)
        return MatchPayload.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        what = f"no key {error}" if isinstance(error, KeyError) else str(error)
        raise PayloadError(f"unreadable notification payload: {what}") from None
