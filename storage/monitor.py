"""Storage of the monitoring side: watch-rule matches, the notification outbox, source
alarms, per-run parse statistics and event cursors (migration 0006).

- ``watch_matches``: one row per (rule, article, version) a watch rule matched, or per
  disappearance of a matched article; the unique key makes "one notification per article
  per rule per version" hold whatever the number of runs, restarts or concurrent writers.
- ``notifications``: the outbox, one row per match (or alarm) and notification target, kept
  until delivered or given up.
- ``watch_cursor``: the last article event a consumer has processed, by consumer name.
- ``source_alarms``: health alarms of a source; at most one active (uncleared) per kind.
- ``run_stats``: what a crawl run parsed (listing pages, empty listings, parse failures),
  the basis of the layout-change alarms.

:class:`MonitorStore` reads and writes them; like :class:`storage.repository.Repository`
every public method is one unit of work with its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import translate_errors, writer
from storage.models import ArticleEvent, ArticleUrl, Base, CrawlRun
from storage.records import EventView

T = TypeVar("T")

#: Kinds of watch matches: the article event that produced them.
MATCH_EVENTS: tuple[str, ...] = ("new", "edited", "gone")
#: States of an outbox row.
NOTIFICATION_STATUSES: tuple[str, ...] = ("pending", "delivered", "given_up")


# -- models ------------------------------------------------------------------------------


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
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
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


MATCHES = cast(Table, WatchMatch.__table__)
ALARMS = cast(Table, SourceAlarm.__table__)
OUTBOX = cast(Table, Notification.__table__)
CURSORS = cast(Table, WatchCursor.__table__)
RUN_STATS = cast(Table, RunStatsRow.__table__)
RUNS = cast(Table, CrawlRun.__table__)
EVENTS = cast(Table, ArticleEvent.__table__)


# -- records -----------------------------------------------------------------------------


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
    """What one crawl run parsed, from the spider's counters."""

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

    @classmethod
    def from_scrapy(cls, stats: dict[str, Any], prefix: str = "kcna_monitor/") -> RunStats:
        """The counters of a crawl's Scrapy stats (``kcna_monitor/listing_pages`` ...)."""

        def value(name: str) -> int:
            return int(stats.get(prefix + name) or 0)

        return cls(
            listing_pages=value("listing_pages"),
            empty_listings=value("empty_listings"),
            articles_parsed=value("articles_parsed"),
            parse_failures=value("parse_failures"),
            not_articles=value("not_an_article"),
            fetch_failures=value("fetch_failures"),
        )


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


# -- the store ---------------------------------------------------------------------------


def _match_view(row: Any) -> MatchView:
    return MatchView(**{name: row[name] for name in MatchView.__slots__})  # type: ignore[attr-defined]


def _notification_view(row: Any) -> NotificationView:
    return NotificationView(
        **{name: row[name] for name in NotificationView.__slots__}  # type: ignore[attr-defined]
    )


def _alarm_view(row: Any) -> AlarmView:
    return AlarmView(**{name: row[name] for name in AlarmView.__slots__})  # type: ignore[attr-defined]


class MonitorStore:
    """Reads and writes the monitoring tables through ``engine`` (migrated to 0006)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._dialect = engine.dialect.name

    @property
    def engine(self) -> Engine:
        return self._engine

    def _read(self, work: Callable[[Session], T]) -> T:
        with translate_errors(self._engine), Session(self._engine) as session, session.begin():
            return work(session)

    def _write(self, work: Callable[[Session], T]) -> T:
        with translate_errors(self._engine), Session(self._writer) as session, session.begin():
            return work(session)

    def _insert(self, table: Table) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def ping(self) -> None:
        """Raise :class:`storage.errors.DatabaseUnavailable` unless the database answers."""
        self._read(lambda s: s.execute(text("SELECT 1")).scalar_one())

    # -- cursors -------------------------------------------------------------------------

    def cursor(self, name: str) -> int | None:
        """The last event id consumer ``name`` processed; None when it never ran."""
        query = select(CURSORS.c.event_id).where(CURSORS.c.name == name)
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    def _advance(self, session: Session, name: str, event_id: int, at: datetime) -> None:
        statement = self._insert(CURSORS).values(name=name, event_id=event_id, updated_at=at)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "event_id": func.max(excluded.event_id, CURSORS.c.event_id)
                if self._dialect == "sqlite"
                else func.greatest(excluded.event_id, CURSORS.c.event_id),
                "updated_at": excluded.updated_at,
            },
        )
        session.execute(statement)

    def advance_cursor(self, name: str, event_id: int, at: datetime) -> None:
        """Move consumer ``name`` to ``event_id`` (never backwards)."""
        self._write(lambda s: self._advance(s, name, event_id, at))

    # -- matches and the outbox ----------------------------------------------------------

    def record_matches(
        self,
        matches: Sequence[MatchInput],
        *,
        cursor: str | None = None,
        event_id: int | None = None,
        at: datetime,
    ) -> list[MatchView]:
        """Store matches and queue their notifications, in one transaction with moving
        ``cursor`` to ``event_id``. A match stored before (same rule, article and dedup key)
        is skipped with its notifications; returns the matches stored now."""

        def work(session: Session) -> list[MatchView]:
            stored: list[MatchView] = []
            for match in sorted(matches, key=lambda m: (m.event_id or 0, m.rule, m.article_id)):
                row = {
                    name: getattr(match, name)
                    for name in MatchView.__slots__  # type: ignore[attr-defined]
                    if name != "id"
                }
                statement = (
                    self._insert(MATCHES)
                    .values(row)
                    .on_conflict_do_nothing(index_elements=["rule", "article_id", "dedup"])
                    .returning(MATCHES.c.id)
                )
                new_id = session.execute(statement).scalar_one_or_none()
                if new_id is None:
                    continue
                stored.append(MatchView(id=new_id, **row))
                for target in dict.fromkeys(match.targets):
                    session.execute(
                        OUTBOX.insert().values(
                            rule=match.rule,
                            event=match.event,
                            target=target,
                            match_id=new_id,
                            alarm_id=None,
                            article_id=match.article_id,
                            payload=match.payload,
                            status="pending",
                            attempts=0,
                            next_attempt_at=at,
                            last_error=None,
                            created_at=at,
                            delivered_at=None,
                        )
                    )
            if cursor is not None and event_id is not None:
                self._advance(session, cursor, event_id, at)
            return stored

        return self._write(work)

    def matched_rules(self, article_id: str) -> set[str]:
        """The rules that matched some version of the article."""
        query = select(MATCHES.c.rule).where(MATCHES.c.article_id == article_id).distinct()
        return self._read(lambda s: set(s.execute(query).scalars()))

    def matches(self, rule: str | None = None, limit: int = 50) -> list[MatchView]:
        """The latest matches, newest first; optionally of one rule."""
        query = select(MATCHES).order_by(MATCHES.c.id.desc()).limit(limit)
        if rule is not None:
            query = query.where(MATCHES.c.rule == rule)
        return self._read(lambda s: [_match_view(r) for r in s.execute(query).mappings()])

    def enqueue(
        self,
        *,
        rule: str,
        event: str,
        targets: Iterable[str],
        payload: dict[str, Any],
        at: datetime,
        alarm_id: int | None = None,
    ) -> list[int]:
        """Queue a notification that belongs to no match (a health alarm); the new row ids."""

        def work(session: Session) -> list[int]:
            ids = []
            for target in dict.fromkeys(targets):
                statement = (
                    OUTBOX.insert()
                    .values(
                        rule=rule,
                        event=event,
                        target=target,
                        match_id=None,
                        alarm_id=alarm_id,
                        article_id=None,
                        payload=payload,
                        status="pending",
                        attempts=0,
                        next_attempt_at=at,
                        last_error=None,
                        created_at=at,
                        delivered_at=None,
                    )
                    .returning(OUTBOX.c.id)
                )
                ids.append(int(session.execute(statement).scalar_one()))
            return ids

        return self._write(work)

    def claim_due(
        self, now: datetime, *, lease_until: datetime, limit: int = 50
    ) -> list[NotificationView]:
        """Pending notifications due at ``now``, oldest first, leased until ``lease_until``
        (their next attempt moves there), so that no other deliverer takes them meanwhile."""

        def work(session: Session) -> list[NotificationView]:
            query = (
                select(OUTBOX)
                .where(OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now)
                .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = [_notification_view(r) for r in session.execute(query).mappings()]
            if rows:
                session.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=lease_until)
                )
            return rows

        return self._write(work)

    def finish_attempt(
        self,
        notification_id: int,
        *,
        at: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record one delivery attempt: delivered (no ``error``), to be retried at
        ``retry_at``, or given up (an ``error`` and no ``retry_at``)."""
        values: dict[str, Any] = {"attempts": OUTBOX.c.attempts + 1}
        if error is None:
            values.update(status="delivered", delivered_at=at, last_error=None)
        elif retry_at is not None:
            values.update(status="pending", next_attempt_at=retry_at, last_error=error)
        else:
            values.update(status="given_up", last_error=error)
        self._write(
            lambda s: s.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == notification_id, OUTBOX.c.status == "pending")
                .values(values)
            )
        )

    def notifications(
        self, *, status: str | None = None, rule: str | None = None, limit: int = 100
    ) -> list[NotificationView]:
        """Outbox rows, oldest first."""
        query = select(OUTBOX).order_by(OUTBOX.c.id).limit(limit)
        if status is not None:
            query = query.where(OUTBOX.c.status == status)
        if rule is not None:
            query = query.where(OUTBOX.c.rule == rule)
        return self._read(lambda s: [_notification_view(r) for r in s.execute(query).mappings()])

    def outbox_counts(self) -> dict[str, int]:
        """Outbox rows by status (every status present, 0 when none)."""
        query = select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
        counts = dict.fromkeys(NOTIFICATION_STATUSES, 0)
        counts.update(self._read(lambda s: {k: int(n) for k, n in s.execute(query)}))
        return counts

    # -- article events ------------------------------------------------------------------

    def recent_events(self, kinds: Sequence[str], limit: int = 50) -> list[EventView]:
        """The latest article events of these kinds, newest first."""
        query = (
            select(EVENTS)
            .where(EVENTS.c.kind.in_(list(kinds)))
            .order_by(EVENTS.c.id.desc())
            .limit(limit)
        )
        return self._read(lambda s: [EventView(**dict(r)) for r in s.execute(query).mappings()])

    def event_counts(self) -> dict[str, int]:
        """Article events recorded, by kind."""
        query = select(EVENTS.c.kind, func.count()).group_by(EVENTS.c.kind)
        return self._read(lambda s: {kind: int(n) for kind, n in s.execute(query)})

    # -- alarms --------------------------------------------------------------------------

    def raise_alarm(self, source: str, kind: str, message: str, at: datetime) -> AlarmView | None:
        """Raise the alarm (source, kind); returns it when it was not active already (an
        active one only gets the new message and check time, and None is returned)."""

        def work(session: Session) -> AlarmView | None:
            active = (
                session.execute(
                    select(ALARMS).where(
                        ALARMS.c.source == source,
                        ALARMS.c.kind == kind,
                        ALARMS.c.cleared_at.is_(None),
                    )
                )
                .mappings()
                .first()
            )
            if active is not None:
                session.execute(
                    update(ALARMS)
                    .where(ALARMS.c.id == active["id"])
                    .values(message=message, checked_at=at)
                )
                return None
            row = {
                "source": source,
                "kind": kind,
                "message": message,
                "since": at,
                "checked_at": at,
                "cleared_at": None,
            }
            new_id = session.execute(
                self._insert(ALARMS).values(row).on_conflict_do_nothing().returning(ALARMS.c.id)
            ).scalar_one_or_none()
            return AlarmView(id=new_id, **row) if new_id is not None else None

        return self._write(work)

    def clear_alarm(self, source: str, kind: str, at: datetime) -> AlarmView | None:
        """Clear the active alarm (source, kind); returns it, or None when none was active."""

        def work(session: Session) -> AlarmView | None:
            row = (
                session.execute(
                    update(ALARMS)
                    .where(
                        ALARMS.c.source == source,
                        ALARMS.c.kind == kind,
                        ALARMS.c.cleared_at.is_(None),
                    )
                    .values(cleared_at=at, checked_at=at)
                    .returning(*ALARMS.c)
                )
                .mappings()
                .first()
            )
            return _alarm_view(row) if row is not None else None

        return self._write(work)

    def active_alarms(self, source: str | None = None) -> list[AlarmView]:
        """Alarms not cleared, oldest first."""
        query = select(ALARMS).where(ALARMS.c.cleared_at.is_(None)).order_by(ALARMS.c.since)
        if source is not None:
            query = query.where(ALARMS.c.source == source)
        return self._read(lambda s: [_alarm_view(r) for r in s.execute(query).mappings()])

    def alarm_history(self, limit: int = 50) -> list[AlarmView]:
        """The latest alarms, cleared or not, newest first."""
        query = select(ALARMS).order_by(ALARMS.c.since.desc(), ALARMS.c.id.desc()).limit(limit)
        return self._read(lambda s: [_alarm_view(r) for r in s.execute(query).mappings()])

    # -- crawl runs ----------------------------------------------------------------------

    def save_run_stats(self, run_id: int, stats: RunStats, at: datetime) -> None:
        """Record (or replace) what run ``run_id`` parsed."""
        row = {
            "run_id": run_id,
            "listing_pages": stats.listing_pages,
            "empty_listings": stats.empty_listings,
            "articles_parsed": stats.articles_parsed,
            "parse_failures": stats.parse_failures,
            "not_articles": stats.not_articles,
            "fetch_failures": stats.fetch_failures,
            "recorded_at": at,
        }

        def work(session: Session) -> None:
            statement = self._insert(RUN_STATS).values(row)
            statement = statement.on_conflict_do_update(
                index_elements=["run_id"],
                set_={k: statement.excluded[k] for k in row if k != "run_id"},
            )
            session.execute(statement)

        self._write(work)

    def run_stats(self, run_ids: Sequence[int]) -> dict[int, RunStats]:
        """The recorded stats of these runs (runs without any are left out)."""
        if not run_ids:
            return {}
        query = select(RUN_STATS).where(RUN_STATS.c.run_id.in_(list(run_ids)))

        def work(session: Session) -> dict[int, RunStats]:
            found = {}
            for row in session.execute(query).mappings():
                values = {k: row[k] for k in RunStats.__slots__}  # type: ignore[attr-defined]
                found[row["run_id"]] = RunStats(**values)
            return found

        return self._read(work)

    def last_new_article_at(self, source: str) -> datetime | None:
        """When the latest run of ``source`` that stored a new article finished (or began)."""
        query = select(func.max(func.coalesce(RUNS.c.finished_at, RUNS.c.started_at))).where(
            RUNS.c.source == source, RUNS.c.new > 0
        )
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    def last_url_first_seen(self, prefixes: Sequence[str]) -> datetime | None:
        """When an article was first read at a URL starting with one of ``prefixes``, latest."""
        urls = cast(Table, ArticleUrl.__table__)
        if not prefixes:
            return None
        conditions = [urls.c.url.startswith(prefix, autoescape=True) for prefix in prefixes]
        query = select(func.max(urls.c.first_seen)).where(or_(*conditions))
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    def first_run_at(self, source: str) -> datetime | None:
        query = select(func.min(RUNS.c.started_at)).where(RUNS.c.source == source)
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    def run_totals(self) -> list[RunTotals]:
        """Counters summed over every run, by source and status."""
        query = (
            select(
                RUNS.c.source,
                RUNS.c.status,
                func.count(),
                func.coalesce(func.sum(RUNS.c.pages), 0),
                func.coalesce(func.sum(RUNS.c.new), 0),
                func.coalesce(func.sum(RUNS.c.changed), 0),
                func.coalesce(func.sum(RUNS.c.unchanged), 0),
                func.coalesce(func.sum(RUNS.c.failures), 0),
            )
            .group_by(RUNS.c.source, RUNS.c.status)
            .order_by(RUNS.c.source, RUNS.c.status)
        )
        return self._read(
            lambda s: [RunTotals(*(r[:2]), *(int(v) for v in r[2:])) for r in s.execute(query)]
        )

    def last_success(self) -> dict[str, datetime]:
        """By source, when its latest successful run finished."""
        query = (
            select(RUNS.c.source, func.max(RUNS.c.finished_at))
            .where(RUNS.c.status == "ok", RUNS.c.finished_at.is_not(None))
            .group_by(RUNS.c.source)
        )

        return self._read(lambda s: {source: moment for source, moment in s.execute(query)})
