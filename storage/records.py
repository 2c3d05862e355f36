"""The storage contract: plain immutable values going in and out of the repository.

Callers hand the stores :class:`ArticleInput`, :class:`RawPage`, :class:`FailureInput`,
:class:`RunStats`, :class:`SourceState` and :class:`MatchInput` values and get back
:class:`SaveResult`, :class:`ArticleView`, :class:`EventView`, :class:`RunView`,
:class:`RunTotals`, :class:`MatchView`, :class:`NotificationView` and :class:`AlarmView`
values. None of them hold a database session, so they can cross threads and processes.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

#: Where a publication date was read from, most trustworthy first.
DATE_ORIGINS: tuple[str, ...] = ("page-stamp", "listing", "meta-line", "dateline")

#: The states of a crawl run.
RUN_STATUSES: tuple[str, ...] = ("running", "ok", "failed", "interrupted")

#: What can happen to an article: first stored, a new version, noticed gone, seen again.
EVENT_KINDS: tuple[str, ...] = ("new", "edited", "gone", "back")

#: Kinds of watch matches: the article event that produced them.
MATCH_EVENTS: tuple[str, ...] = ("new", "edited", "gone")

#: States of an outbox row.
NOTIFICATION_STATUSES: tuple[str, ...] = ("pending", "delivered", "given_up")


#: C0 control characters but tab and newline, DEL, and the C1 controls.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (C0 but tab and newline, DEL, C1): terminal
    escapes, bells and backspaces never reach storage, whatever the caller read."""
    return _CONTROLS.sub("", text) if _CONTROLS.search(text) else text


def _require_utc(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def utc_iso(value: datetime) -> str:
    """ISO 8601 text of an aware datetime, in UTC (``2026-01-02T03:04:05+00:00``)."""
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class RawPage:
    """The bytes of one fetched page, kept so articles can be parsed again later."""

    url: str
    body: bytes
    fetched_at: datetime
    status: int = 200
    parser_version: str = ""
    content_type: str | None = None

    def __post_init__(self) -> None:
        _require_utc("RawPage.fetched_at", self.fetched_at)


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """One article as read from one page at one moment.

    ``url`` is where the page was read; ``canonical_url`` the publisher's own URL (equal to
    ``url`` for an original, the kcna.kp URL for a KCNA Watch copy). ``source_key`` is the
    site's own article id when it has one (``kcna-detail:<hex>``, ``kcnawatch:<t>-<n>``).
    """

    url: str
    canonical_url: str
    source: str
    title: str
    text: str
    published: date | None
    published_from: str | None
    dateline: str | None
    seen_at: datetime
    categories: tuple[str, ...] = ()
    source_key: str | None = None
    page: RawPage | None = None

    def __post_init__(self) -> None:
        _require_utc("ArticleInput.seen_at", self.seen_at)
        for name in ("source", "title", "text", "dateline", "source_key"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, strip_controls(value))
        object.__setattr__(self, "categories", tuple(map(strip_controls, self.categories)))
        if self.published_from is not None and self.published_from not in DATE_ORIGINS:
            raise ValueError(
                f"published_from must be one of {', '.join(DATE_ORIGINS)} or None, "
                f"got {self.published_from!r}"
            )
        if not self.url or not self.canonical_url:
            raise ValueError("ArticleInput needs both url and canonical_url")


@dataclass(frozen=True, slots=True)
class FailureInput:
    """A page that could not be fetched or parsed."""

    url: str
    reason: str
    at: datetime
    listed_on: date | None = None  # the date a listing gave the page, for a later retry
    category: str | None = None  # the category of the listing that linked it, likewise

    def __post_init__(self) -> None:
        _require_utc("FailureInput.at", self.at)
        object.__setattr__(self, "reason", strip_controls(self.reason))


class SaveOutcome(enum.StrEnum):
    """What saving one :class:`ArticleInput` did."""

    NEW = "new"  # a new article was created
    CHANGED = "changed"  # a known article whose text or title changed: a version was added
    UNCHANGED = "unchanged"  # a known article seen again (possibly under another URL)


@dataclass(frozen=True, slots=True)
class SaveResult:
    """The outcome for one input, in input order.

    ``version`` is the number of the stored version whose content the input carried.
    """

    article_id: str
    outcome: SaveOutcome
    version: int


@dataclass(frozen=True, slots=True)
class UrlView:
    """One URL an article was read at."""

    url: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class VersionView:
    """One stored version of an article's title and text (1 is the first seen)."""

    number: int
    title: str
    text: str
    content_hash: str
    dateline: str | None
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class ArticleView:
    """An archived article: its current content, the URLs it was read at, its history.

    ``history`` is filled only when asked for (it is empty otherwise); ``versions`` is
    always the number of stored versions.
    """

    id: str
    url: str
    urls: list[UrlView]
    source: str
    title: str
    published: date | None
    published_from: str | None
    dateline: str | None
    text: str
    categories: list[str]
    first_seen: datetime
    last_seen: datetime
    content_hash: str
    versions: int
    history: list[VersionView] = field(default_factory=list)
    #: When the article was noticed gone from its site (None while it is there).
    gone_at: datetime | None = None

    def version(self, number: int | None) -> tuple[int, str, str]:
        """(number, title, text) of version ``number`` (from ``history``), else the current
        one."""
        for version in self.history:
            if version.number == number:
                return version.number, version.title, version.text
        return self.versions, self.title, self.text

    def to_export(self, *, all_versions: bool = False) -> dict[str, Any]:
        """The article as a JSON-ready dict with a fixed set of keys.

        With ``all_versions`` (and a view read with its history) the dict also carries
        ``history``: every stored version, oldest first.
        """
        record = {
            "id": self.id,
            "url": self.url,
            "urls": [u.url for u in self.urls],
            "source": self.source,
            "title": self.title,
            "published": self.published.isoformat() if self.published else None,
            "published_from": self.published_from,
            "dateline": self.dateline,
            "text": self.text,
            "categories": list(self.categories),
            "first_seen": utc_iso(self.first_seen),
            "last_seen": utc_iso(self.last_seen),
            "content_hash": self.content_hash,
            "versions": self.versions,
            "gone": utc_iso(self.gone_at) if self.gone_at is not None else None,
        }
        if all_versions:
            record["history"] = [
                {
                    "version": v.number,
                    "first_seen": utc_iso(v.first_seen),
                    "title": v.title,
                    "dateline": v.dateline,
                    "text": v.text,
                    "content_hash": v.content_hash,
                }
                for v in self.history
            ]
        return record


@dataclass(frozen=True, slots=True)
class EventView:
    """One recorded event of an article (see :data:`EVENT_KINDS`); ids grow in recording order.

    ``version`` is the version a ``new`` or ``edited`` event made; ``detail`` says why an
    article was marked ``gone`` (e.g. ``HTTP 404 at <url>``).
    """

    id: int
    article_id: str
    kind: str
    version: int | None
    at: datetime
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class RunView:
    """One crawl run and its counters."""

    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    pages: int
    new: int
    changed: int
    unchanged: int
    failures: int
    error: str | None
    kind: str | None = None  # crawl, backfill or recheck (None: recorded before kinds)
    pid: int | None = None  # the process that records its outcome, on ``host``
    host: str | None = None
    superseded_by: int | None = None  # the run that took it over (another node's)


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the monitoring daemon plans for one source and the last error it saw.

    ``pid`` and ``host`` name the daemon that wrote the row; ``current_run_id`` the run a
    crawl of the source is writing to right now (None between crawls).
    """

    source: str
    updated_at: datetime
    schedule: str | None = None  # as configured, e.g. "every 15m"
    next_run_at: datetime | None = None
    current_run_id: int | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures_in_row: int = 0
    paused_until: datetime | None = None
    pid: int | None = None
    host: str | None = None

    def __post_init__(self) -> None:
        _require_utc("SourceState.updated_at", self.updated_at)


@dataclass(frozen=True, slots=True)
class MatchInput:
    """A watch rule matching one article event, and where to notify it.

    ``payload`` is what the notification carries (the same for every target).
    """

    rule: str
    article_id: str
    version: int
    event: str
    dedup: str
    event_id: int | None
    title: str
    url: str
    published: date | None
    snippet: str
    matched_at: datetime
    targets: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.event not in MATCH_EVENTS:
            raise ValueError(f"event must be one of {', '.join(MATCH_EVENTS)}: {self.event!r}")


@dataclass(frozen=True, slots=True)
class MatchView:
    id: int
    rule: str
    article_id: str
    version: int
    event: str
    dedup: str
    event_id: int | None
    title: str
    url: str
    published: date | None
    snippet: str
    matched_at: datetime


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    rule: str
    event: str
    target: str
    match_id: int | None
    alarm_id: int | None
    article_id: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    lease_token: str | None = None  # the lease it is being delivered under


@dataclass(frozen=True, slots=True)
class AlarmView:
    id: int
    source: str
    kind: str
    message: str
    since: datetime
    checked_at: datetime
    cleared_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunStats:
    """What one crawl run parsed: the crawler's counters of the run."""

    listing_pages: int = 0
    empty_listings: int = 0
    articles_parsed: int = 0
    parse_failures: int = 0
    not_articles: int = 0
    fetch_failures: int = 0

    @property
    def pages_parsed(self) -> int:
        """Pages the parser was given (listings, articles, skipped pages, failures)."""
        return self.listing_pages + self.articles_parsed + self.not_articles + self.parse_failures


@dataclass(frozen=True, slots=True)
class RunTotals:
    """Sums over the crawl runs of one source in one status."""

    source: str
    status: str
    runs: int
    pages: int
    new: int
    changed: int
    unchanged: int
    failures: int
