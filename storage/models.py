"""The archive's tables, as typed SQLAlchemy declarative models.

- ``articles``: one row per article, holding its current (latest) content.
- ``article_keys``: identity keys (``src:``, ``url:``, ``fp:``) pointing at an article.
- ``article_urls``: every URL an article was read at, with first and last sighting.
- ``article_versions``: every distinct content an article had, numbered from 1.
- ``raw_pages``: fetched page bytes (zlib), one row per distinct (url, body).
- ``crawl_runs`` and ``crawl_failures``: what each crawl did and what went wrong.
- ``daemon_state``: per source, what the monitoring daemon plans and last saw go wrong.
- ``http_validators``: ETag / Last-Modified of listing and article pages, for conditional
  requests.
- ``article_events``: what happened to articles (new, edited, gone, back), in order.
- ``listing_snapshots``: the articles a listing page showed last, to notice one vanishing.
- ``run_stats``: what a crawl run parsed (listing pages, empty listings, parse failures), the
  basis of the layout-change alarms.
- ``watch_matches``: one row per (rule, article, version) a watch rule matched, or per
  disappearance of a matched article; the unique key makes "one notification per article
  per rule per version" hold whatever the number of runs, restarts or concurrent writers.
- ``notifications``: the outbox, one row per match (or alarm) and notification target, kept
  until delivered or given up.
- ``watch_cursor``: the last article event a consumer has processed, by consumer name.
- ``source_alarms``: health alarms of a source; at most one active (uncleared) per kind.

All timestamps are stored in UTC and come back as timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back as an aware UTC datetime.

    PostgreSQL keeps ``timestamp with time zone``; SQLite keeps naive UTC text. Naive values
    given to the database are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), date: Date()}


class Article(Base):
    __tablename__ = "articles"
    # The archive's two orders, and the keys their pages continue from (storage.paging).
    __table_args__ = (
        Index("ix_articles_newest", sql("coalesce(published, '0001-01-01')"), "first_seen", "id"),
        Index(None, "first_seen", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)  # the publisher's URL when known
    source: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    published: Mapped[date | None] = mapped_column(index=True)
    published_from: Mapped[str | None] = mapped_column(String(20))
    dateline: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    version_count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(index=True)
    last_seen: Mapped[datetime] = mapped_column(index=True)
    #: When the article was noticed gone (its page answered 404/410, or it vanished from a
    #: listing); None while it is there. It is never deleted from the archive.
    gone_at: Mapped[datetime | None]
    #: When its own page was last re-checked (fetched again or revalidated), for revisits.
    checked_at: Mapped[datetime | None]


class ArticleKey(Base):
    __tablename__ = "article_keys"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )


class ArticleUrl(Base):
    __tablename__ = "article_urls"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class ArticleVersion(Base):
    __tablename__ = "article_versions"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    dateline: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime]


class RawPageRow(Base):
    __tablename__ = "raw_pages"
    __table_args__ = (UniqueConstraint("url", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)  # looked up through uq_raw_pages_url_sha256
    sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed
    size: Mapped[int] = mapped_column(Integer)  # uncompressed length
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    parser_version: Mapped[str] = mapped_column(String(100))
    first_fetched: Mapped[datetime]
    last_fetched: Mapped[datetime] = mapped_column(index=True)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'ok', 'failed', 'interrupted')", name="status"),
        Index(None, "source", "started_at"),
        Index(None, "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # The process that records the run's outcome: a run left running by a dead one is settled.
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str | None] = mapped_column(String(20))  # crawl, backfill or recheck
    superseded_by: Mapped[int | None] = mapped_column(Integer)  # the run that took it over


class CrawlFailure(Base):
    __tablename__ = "crawl_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(index=True)
    listed_on: Mapped[date | None] = mapped_column(Date)
    category: Mapped[str | None] = mapped_column(Text)  # the category of that listing


class HttpValidator(Base):
    __tablename__ = "http_validators"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class DaemonState(Base):
    """What the monitoring daemon is doing for one source, readable from other processes.

    ``current_run_id`` names the run a crawl of the source is writing to right now; a daemon
    that starts and finds it still ``running`` knows the previous daemon died during it.
    """

    __tablename__ = "daemon_state"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    schedule: Mapped[str | None] = mapped_column(String(200))  # e.g. "every 15m"
    next_run_at: Mapped[datetime | None]
    current_run_id: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    #: Failed runs in a row, and until when the source is paused after too many.
    failures_in_row: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paused_until: Mapped[datetime | None]
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime]


class BackfillProgress(Base):
    """Listing pages 1..``pages_done`` of ``listing_url`` are fully stored by a backfill."""

    __tablename__ = "backfill_progress"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    listing_url: Mapped[str] = mapped_column(Text, primary_key=True)
    pages_done: Mapped[int] = mapped_column(Integer)
    page_count: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class ArticleEvent(Base):
    """Something that happened to an article, in the order it was recorded.

    ``kind`` is ``new`` or ``edited`` (with the ``version`` it made), ``gone`` or ``back``;
    ``detail`` says why, e.g. ``HTTP 404 at <url>``. Written in the transaction of the change.
    """

    __tablename__ = "article_events"
    __table_args__ = (CheckConstraint("kind IN ('new', 'edited', 'gone', 'back')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    version: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(index=True)
    detail: Mapped[str | None] = mapped_column(Text)


class ListingSnapshot(Base):
    """The articles one listing page showed at its last full read, in page order."""

    __tablename__ = "listing_snapshots"

    listing: Mapped[str] = mapped_column(Text, primary_key=True)  # URL (#page=N when POSTed)
    article_ids: Mapped[list[str]] = mapped_column(JSON)
    seen_at: Mapped[datetime]


class WatchMatch(Base):
    __tablename__ = "watch_matches"
    __table_args__ = (
        UniqueConstraint("rule", "article_id", "dedup"),
        CheckConstraint("event IN ('new', 'edited', 'gone')", name="event"),
        Index(None, "rule", "matched_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(200))
    article_id: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(20))
    #: ``v<version>`` for new and edited (a version alerts once, however it came back),
    #: ``gone:<event id>`` for a disappearance.
    dedup: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    published: Mapped[date | None]
    snippet: Mapped[str] = mapped_column(Text)
    matched_at: Mapped[datetime]


class SourceAlarm(Base):
    __tablename__ = "source_alarms"
    __table_args__ = (
        Index(
            "uq_source_alarms_active",
            "source",
            "kind",
            unique=True,
            sqlite_where=sql("cleared_at IS NULL"),
            postgresql_where=sql("cleared_at IS NULL"),
        ),
        Index(None, "since"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime]
    checked_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("match_id", "target"),
        CheckConstraint("status IN ('pending', 'delivered', 'given_up')", name="status"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(200))  # a watch rule, or "health"
    event: Mapped[str] = mapped_column(String(20))  # new, edited, gone, alarm, cleared
    target: Mapped[str] = mapped_column(Text)  # e.g. "log", "webhook:https://...", "email:..."
    match_id: Mapped[int | None] = mapped_column(ForeignKey("watch_matches.id", ondelete="CASCADE"))
    alarm_id: Mapped[int | None] = mapped_column(
        ForeignKey("source_alarms.id", ondelete="CASCADE"), index=True
    )
    article_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    lease_token: Mapped[str | None] = mapped_column(String(32))  # who holds its delivery lease


class WatchCursor(Base):
    __tablename__ = "watch_cursor"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class RunStatsRow(Base):
    __tablename__ = "run_stats"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="CASCADE"), primary_key=True
    )
    listing_pages: Mapped[int] = mapped_column(Integer)
    empty_listings: Mapped[int] = mapped_column(Integer)
    articles_parsed: Mapped[int] = mapped_column(Integer)
    parse_failures: Mapped[int] = mapped_column(Integer)
    not_articles: Mapped[int] = mapped_column(Integer)
    fetch_failures: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime]


# -- the tables, for Core statements ---------------------------------------------------------

ARTICLES = cast(Table, Article.__table__)
KEYS = cast(Table, ArticleKey.__table__)
URLS = cast(Table, ArticleUrl.__table__)
VERSIONS = cast(Table, ArticleVersion.__table__)
PAGES = cast(Table, RawPageRow.__table__)
EVENTS = cast(Table, ArticleEvent.__table__)
RUNS = cast(Table, CrawlRun.__table__)
FAILURES = cast(Table, CrawlFailure.__table__)
RUN_STATS = cast(Table, RunStatsRow.__table__)
STATES = cast(Table, DaemonState.__table__)
VALIDATORS = cast(Table, HttpValidator.__table__)
PROGRESS = cast(Table, BackfillProgress.__table__)
SNAPSHOTS = cast(Table, ListingSnapshot.__table__)
MATCHES = cast(Table, WatchMatch.__table__)
OUTBOX = cast(Table, Notification.__table__)
CURSORS = cast(Table, WatchCursor.__table__)
ALARMS = cast(Table, SourceAlarm.__table__)
