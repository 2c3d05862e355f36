"""The archive's read and write operations.

A :class:`Repository` wraps an engine; every public method is one unit of work with its own
session and transaction. Writes are safe to run from several processes at once:

- rows are added with ``INSERT ... ON CONFLICT`` on natural keys, never check-then-insert;
- article ids are derived from content, so two processes meeting the same new article
  insert the same id and one insert simply does nothing;
- on SQLite a write transaction takes the write lock when it begins; on PostgreSQL the
  articles a batch updates are locked (``SELECT ... FOR UPDATE``, in id order) and rows are
  inserted in key order, so concurrent batches neither lose updates nor deadlock. If a
  concurrent batch created an article, key or version this batch was about to create, the
  batch is run again against the now-committed state (its last attempt locks the articles
  table, so it always completes).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from sqlalchemy import (
    Engine,
    Select,
    Table,
    bindparam,
    case,
    exc,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import translate_errors, writer
from storage.errors import AmbiguousId, UnknownRun
from storage.keys import ID_LENGTH, article_id, identify
from storage.merge import DEFAULT_AGGREGATOR_HOSTS, ArticleState
from storage.models import (
    Article,
    ArticleEvent,
    ArticleKey,
    ArticleUrl,
    ArticleVersion,
    BackfillProgress,
    CrawlFailure,
    CrawlRun,
    DaemonState,
    HttpValidator,
    ListingSnapshot,
    RawPageRow,
)
from storage.records import (
    RUN_STATUSES,
    ArticleInput,
    ArticleView,
    EventView,
    FailureInput,
    FailureView,
    RawPage,
    RunView,
    SaveOutcome,
    SaveResult,
    SourceState,
    UrlView,
    VersionView,
)

T = TypeVar("T")

#: Shortest id prefix :meth:`Repository.get_article` accepts.
MIN_PREFIX = 4
#: Rows per INSERT statement and values per IN list: well under both backends' limits.
_CHUNK = 500
#: Attempts of a write batch that lost a race or was chosen as a deadlock victim. The last
#: attempt on PostgreSQL locks the articles table, so it cannot lose a race again.
_ATTEMPTS = 6
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock

ARTICLES = cast(Table, Article.__table__)
KEYS = cast(Table, ArticleKey.__table__)
URLS = cast(Table, ArticleUrl.__table__)
VERSIONS = cast(Table, ArticleVersion.__table__)
PAGES = cast(Table, RawPageRow.__table__)
RUNS = cast(Table, CrawlRun.__table__)
FAILURES = cast(Table, CrawlFailure.__table__)
STATES = cast(Table, DaemonState.__table__)
VALIDATORS = cast(Table, HttpValidator.__table__)
PROGRESS = cast(Table, BackfillProgress.__table__)
EVENTS = cast(Table, ArticleEvent.__table__)
SNAPSHOTS = cast(Table, ListingSnapshot.__table__)

#: The ``articles`` columns a batch of sightings reads and writes (``checked_at`` belongs to
#: revisits alone).
_STATE_COLUMNS = tuple(c for c in ARTICLES.columns if c.name != "checked_at")
_MERGED_COLUMNS = tuple(c.name for c in _STATE_COLUMNS if c.name != "id")
#: An article id, as opposed to a URL, among the targets of :meth:`Repository.mark_gone`.
_ID_PATTERN = re.compile(rf"[0-9a-f]{{{ID_LENGTH}}}")


class _RaceLost(Exception):
    """A concurrent transaction created a row this one was about to create."""


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Batch:
    """Everything one ``save_articles`` call will write."""

    states: dict[str, ArticleState]
    new_keys: dict[str, str]  # key -> article id
    urls: dict[str, dict[str, Any]]  # url -> article_urls row
    results: list[SaveResult]


class Repository:
    """Reads and writes the archive through ``engine`` (see :func:`storage.db.make_engine`).

    ``aggregator_hosts`` names sites whose URLs are copies, never an article's preferred URL.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        aggregator_hosts: Iterable[str] = DEFAULT_AGGREGATOR_HOSTS,
        chunk_size: int = 200,
    ) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._dialect = engine.dialect.name
        self._aggregators = frozenset(h.lower() for h in aggregator_hosts)
        self._chunk_size = chunk_size

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- units of work -------------------------------------------------------------------

    def _read(self, work: Callable[[Session], T]) -> T:
        with translate_errors(self._engine), Session(self._engine) as session, session.begin():
            return work(session)

    def _write(self, work: Callable[[Session, bool], T]) -> T:
        """Run ``work(session, last_attempt)`` in one write transaction, retrying lost races."""
        with translate_errors(self._engine):
            for attempt in range(1, _ATTEMPTS + 1):
                last = attempt == _ATTEMPTS
                try:
                    with Session(self._writer) as session, session.begin():
                        return work(session, last)
                except _RaceLost:
                    continue
                except exc.DBAPIError as error:
                    if last or getattr(error.orig, "sqlstate", None) not in _RETRY_SQLSTATES:
                        raise
        raise AssertionError("unreachable: the last attempt never raises _RaceLost")

    def _insert(self, table: Table) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # -- articles: writing ---------------------------------------------------------------

    def save_articles(self, items: Sequence[ArticleInput]) -> list[SaveResult]:
        """Store a batch of sightings in one transaction; one result per input, in order."""
        if not items:
            return []
        return self._write(lambda session, last: self._save_batch(session, items, last))

    def _save_batch(
        self, session: Session, items: Sequence[ArticleInput], last: bool
    ) -> list[SaveResult]:
        if last and self._dialect == "postgresql":
            # Plain reads go on; other writers of articles wait until this batch commits.
            session.execute(text("LOCK TABLE articles IN EXCLUSIVE MODE"))
        batch = self._resolve(session, items)
        self._write_batch(session, batch, tolerate_races=last)
        self._store_pages(session, [i.page for i in items if i.page is not None])
        return batch.results

    def _resolve(self, session: Session, items: Sequence[ArticleInput]) -> _Batch:
        identities = [identify(item) for item in items]  # each text normalised once
        item_keys = [identity.keys for identity in identities]
        candidates = [article_id(identity.fingerprint) for identity in identities]
        known = self._known_keys(session, sorted({k for keys in item_keys for k in keys}))
        states = self._load_states(session, sorted(set(known.values()) | set(candidates)))

        batch = _Batch(states=states, new_keys={}, urls={}, results=[])
        for item, keys, candidate, identity in zip(
            items, item_keys, candidates, identities, strict=True
        ):
            owner = None
            for key in keys:
                owner = known.get(key) or batch.new_keys.get(key)
                if owner is not None:
                    break
            if owner is None and candidate in states:
                owner = candidate  # an article first seen with this very content
            if owner is None:
                state = ArticleState.create(candidate, item, digest=identity.content_hash)
                states[candidate] = state
                owner = candidate
                batch.results.append(SaveResult(owner, SaveOutcome.NEW, 1))
            else:
                outcome, number = states[owner].apply(
                    item, self._aggregators, digest=identity.content_hash
                )
                batch.results.append(SaveResult(owner, outcome, number))
            for key in keys:
                if key not in known and key not in batch.new_keys:
                    batch.new_keys[key] = owner
            self._note_url(batch.urls, item, owner)
        return batch

    def _known_keys(self, session: Session, keys: list[str]) -> dict[str, str]:
        """The stored keys among ``keys`` and the article each points at."""
        known: dict[str, str] = {}
        for chunk in _chunks(keys):
            rows = session.execute(
                select(KEYS.c.key, KEYS.c.article_id).where(KEYS.c.key.in_(chunk))
            )
            known.update({key: aid for key, aid in rows})
        return known

    @staticmethod
    def _note_url(urls: dict[str, dict[str, Any]], item: ArticleInput, owner: str) -> None:
        row = urls.get(item.url)
        if row is None:
            urls[item.url] = {
                "url": item.url,
                "article_id": owner,
                "first_seen": item.seen_at,
                "last_seen": item.seen_at,
            }
        else:
            row["first_seen"] = min(row["first_seen"], item.seen_at)
            row["last_seen"] = max(row["last_seen"], item.seen_at)

    def _load_states(self, session: Session, ids: list[str]) -> dict[str, ArticleState]:
        """The stored articles among ``ids``, locked for update on PostgreSQL (in id order)."""
        states: dict[str, ArticleState] = {}
        for chunk in _chunks(ids):
            query = (
                select(*_STATE_COLUMNS).where(ARTICLES.c.id.in_(chunk)).order_by(ARTICLES.c.id)
            ).with_for_update()
            for row in session.execute(query).mappings():
                state = ArticleState(is_new=False, **dict(row))
                state.categories = list(state.categories or [])
                state.loaded = state.snapshot()
                states[state.id] = state
        existing = sorted(states)
        for chunk in _chunks(existing):
            rows = session.execute(
                select(VERSIONS.c.article_id, VERSIONS.c.content_hash, VERSIONS.c.number).where(
                    VERSIONS.c.article_id.in_(chunk)
                )
            )
            for aid, digest, number in rows:
                states[aid].known_hashes.setdefault(digest, number)
        return states

    def _write_batch(self, session: Session, batch: _Batch, *, tolerate_races: bool) -> None:
        states = [batch.states[aid] for aid in sorted(batch.states)]
        new_rows = [s.row() for s in states if s.is_new]
        created = self._insert_returning(session, ARTICLES, new_rows, ["id"])
        if not tolerate_races and len(created) != len(new_rows):
            raise _RaceLost

        key_rows = [{"key": k, "article_id": a} for k, a in sorted(batch.new_keys.items())]
        added = self._insert_returning(session, KEYS, key_rows, ["key"])
        if not tolerate_races and len(added) != len(key_rows):
            raise _RaceLost

        self._upsert_urls(session, [batch.urls[u] for u in sorted(batch.urls)])

        version_rows = [v for s in states for v in s.new_versions]
        stored = self._insert_returning(session, VERSIONS, version_rows, ["article_id", "number"])
        if not tolerate_races and len(stored) != len(version_rows):
            raise _RaceLost

        changed = [s for s in states if not s.is_new and s.dirty]
        if changed:
            statement = (
                update(ARTICLES)
                .where(ARTICLES.c.id == bindparam("b_id"))
                .values({name: bindparam(f"b_{name}") for name in _MERGED_COLUMNS})
            )
            params = [{f"b_{name}": value for name, value in s.row().items()} for s in changed]
            session.execute(statement, params)

        self._insert_events(session, _batch_events(states, created, stored))

    def _insert_returning(
        self, session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str]
    ) -> list[tuple[Any, ...]]:
        """Insert ``rows`` skipping conflicts on ``keys``; the keys of the rows inserted."""
        # Rows passed as parameters (executemany), not as VALUES: the statement is the same
        # for every batch, so it is compiled once and cached.
        statement = (
            self._insert(table)
            .on_conflict_do_nothing(index_elements=keys)
            .returning(*(table.c[k] for k in keys))
        )
        inserted: list[tuple[Any, ...]] = []
        for chunk in _chunks(rows):
            inserted.extend(tuple(r) for r in session.execute(statement, list(chunk)))
        return inserted

    def _upsert_urls(self, session: Session, rows: list[dict[str, Any]]) -> None:
        statement = self._insert(URLS)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["url"],
            set_={
                "first_seen": case(
                    (new.first_seen < URLS.c.first_seen, new.first_seen),
                    else_=URLS.c.first_seen,
                ),
                "last_seen": case(
                    (new.last_seen > URLS.c.last_seen, new.last_seen),
                    else_=URLS.c.last_seen,
                ),
            },
        )
        for chunk in _chunks(rows):
            session.execute(statement, list(chunk))  # executemany: one cached statement

    # -- raw pages -----------------------------------------------------------------------

    def save_pages(self, pages: Sequence[RawPage]) -> None:
        """Store fetched pages, compressed; identical bytes at the same URL are kept once."""
        if pages:
            self._write(lambda session, _last: self._store_pages(session, pages))

    def _store_pages(self, session: Session, pages: Sequence[RawPage]) -> None:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for page in pages:
            digest = hashlib.sha256(page.body).hexdigest()
            row = rows.get((page.url, digest))
            if row is not None:
                row["first_fetched"] = min(row["first_fetched"], page.fetched_at)
                row["last_fetched"] = max(row["last_fetched"], page.fetched_at)
                continue
            rows[(page.url, digest)] = {
                "url": page.url,
                "sha256": digest,
                "body": zlib.compress(page.body, 6),
                "size": len(page.body),
                "status": page.status,
                "content_type": page.content_type,
                "parser_version": page.parser_version,
                "first_fetched": page.fetched_at,
                "last_fetched": page.fetched_at,
            }
        ordered = [rows[k] for k in sorted(rows)]
        statement = self._insert(PAGES)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["url", "sha256"],
            set_={
                "last_fetched": case(
                    (new.last_fetched > PAGES.c.last_fetched, new.last_fetched),
                    else_=PAGES.c.last_fetched,
                )
            },
        )
        for chunk in _chunks(ordered, 50):  # bodies are large: keep statements modest
            session.execute(statement, list(chunk))  # executemany: one cached statement

    def latest_page(self, url: str) -> RawPage | None:
        """The most recently fetched body stored for ``url``, decompressed."""

        def work(session: Session) -> RawPage | None:
            row = session.execute(
                select(PAGES)
                .where(PAGES.c.url == url)
                .order_by(PAGES.c.last_fetched.desc(), PAGES.c.id.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            return RawPage(
                url=row.url,
                body=zlib.decompress(row.body),
                fetched_at=row.last_fetched,
                status=row.status,
                parser_version=row.parser_version,
                content_type=row.content_type,
            )

        return self._read(work)

    def count_pages(self) -> int:
        """Number of distinct stored (url, body) pairs."""
        return self._read(lambda s: s.execute(select(func.count()).select_from(PAGES)).scalar_one())

    # -- what a crawl knows before it starts ----------------------------------------------

    def known_urls(self, prefixes: Iterable[str]) -> set[str]:
        """Every stored article URL that starts with one of ``prefixes`` (e.g. a site root)."""
        prefixes = list(prefixes)
        if not prefixes:
            return set()

        def work(session: Session) -> set[str]:
            query = select(ArticleUrl.url).where(
                or_(*(ArticleUrl.url.startswith(p, autoescape=True) for p in prefixes))
            )
            return set(session.execute(query).scalars())

        return self._read(work)

    def failed_urls(self, prefixes: Iterable[str], since: datetime) -> dict[str, date | None]:
        """URLs under ``prefixes`` that failed since ``since`` and hold no stored article,
        with the date a listing gave them (None when none did)."""
        prefixes = list(prefixes)
        if not prefixes:
            return {}

        def work(session: Session) -> dict[str, date | None]:
            query = (
                select(FAILURES.c.url, func.max(FAILURES.c.listed_on))
                .where(FAILURES.c.at >= since)
                .where(or_(*(FAILURES.c.url.startswith(p, autoescape=True) for p in prefixes)))
                .where(~select(URLS.c.url).where(URLS.c.url == FAILURES.c.url).exists())
                .group_by(FAILURES.c.url)
            )
            return {url: listed_on for url, listed_on in session.execute(query)}

        return self._read(work)

    def load_validators(
        self,
        prefixes: Iterable[str],
        *,
        listings_only: bool = False,
        urls: Iterable[str] | None = None,
    ) -> dict[str, tuple[str | None, str | None]]:
        """``url -> (etag, last_modified)`` of the stored validators under ``prefixes``.

        ``listings_only`` leaves out the URLs articles were read at; ``urls`` (when given)
        restricts the answer to those URLs.
        """
        prefixes = list(prefixes)
        wanted = sorted(set(urls)) if urls is not None else None

        def work(session: Session) -> dict[str, tuple[str | None, str | None]]:
            query = select(HttpValidator.url, HttpValidator.etag, HttpValidator.last_modified)
            if prefixes:
                query = query.where(
                    or_(*(HttpValidator.url.startswith(p, autoescape=True) for p in prefixes))
                )
            if listings_only:
                query = query.where(
                    ~select(URLS.c.url).where(URLS.c.url == VALIDATORS.c.url).exists()
                )
            if wanted is None:
                rows = list(session.execute(query))
            else:
                rows = []
                for chunk in _chunks(wanted):
                    rows += session.execute(query.where(VALIDATORS.c.url.in_(chunk)))
            return {url: (etag, modified) for url, etag, modified in rows}

        return self._read(work)

    def save_validators(
        self, validators: dict[str, tuple[str | None, str | None]], at: datetime
    ) -> None:
        """Store (or replace) the validators of each URL's latest fetch."""
        if not validators:
            return
        rows = [
            {"url": url, "etag": etag, "last_modified": modified, "updated_at": at}
            for url, (etag, modified) in sorted(validators.items())
        ]

        def work(session: Session, _last: bool) -> None:
            statement = self._insert(VALIDATORS)
            statement = statement.on_conflict_do_update(
                index_elements=["url"],
                set_={
                    "etag": statement.excluded.etag,
                    "last_modified": statement.excluded.last_modified,
                    "updated_at": statement.excluded.updated_at,
                },
            )
            session.execute(statement, rows)

        self._write(work)

    # -- revisits, gone marks and events -------------------------------------------------

    def due_for_revisit(
        self, prefixes: Iterable[str], *, young_since: datetime, checked_before: datetime
    ) -> dict[str, date | None]:
        """Pages to fetch again of young articles not checked since ``checked_before``, with
        the articles' publication dates.

        An article is young when it was published on or after ``young_since`` (undated: first
        seen since then). An article never re-checked counts as checked when it was first
        seen. Articles marked gone are included, so that one coming back is noticed. Which
        page: see :meth:`_pages_to_check`.
        """
        prefixes = list(prefixes)
        if not prefixes:
            return {}
        checked = func.coalesce(ARTICLES.c.checked_at, ARTICLES.c.first_seen)
        young = or_(
            ARTICLES.c.published >= young_since.date(),
            ARTICLES.c.published.is_(None) & (ARTICLES.c.first_seen >= young_since),
        )
        query = select(ARTICLES.c.id, ARTICLES.c.url, ARTICLES.c.published)
        query = query.where(young).where(checked < checked_before)
        return self._read(lambda s: self._pages_to_check(s, query, prefixes))

    def urls_for_recheck(
        self,
        prefixes: Iterable[str],
        *,
        since: date | None = None,
        until: date | None = None,
        ids: Iterable[str] = (),
    ) -> dict[str, date | None]:
        """Pages to fetch again (see :meth:`_pages_to_check`) of the articles published from
        ``since`` to ``until`` (inclusive; either bound leaves undated articles out) and/or
        with one of ``ids``, whatever their age; with their publication dates."""
        prefixes, wanted = list(prefixes), sorted(set(ids))
        if not prefixes:
            return {}
        query = select(ARTICLES.c.id, ARTICLES.c.url, ARTICLES.c.published)
        if since is not None:
            query = query.where(ARTICLES.c.published >= since)
        if until is not None:
            query = query.where(ARTICLES.c.published <= until)

        def work(session: Session) -> dict[str, date | None]:
            if not wanted:
                return self._pages_to_check(session, query, prefixes)
            found: dict[str, date | None] = {}
            for chunk in _chunks(wanted):
                chosen = query.where(ARTICLES.c.id.in_(chunk))
                found.update(self._pages_to_check(session, chosen, prefixes))
            return found

        return self._read(work)

    def _pages_to_check(
        self, session: Session, query: Select[Any], prefixes: Sequence[str]
    ) -> dict[str, date | None]:
        """The page to fetch again of each article ``query`` selects (id, url, published),
        when it is under ``prefixes``: the article's own URL (the publisher's) if a page was
        ever read there, else the URL it was last read at. One page per article: a copy on
        an aggregator is not checked while its original is."""
        articles = {aid: (own, day) for aid, own, day in session.execute(query)}
        read: dict[str, dict[str, datetime]] = {}
        for chunk in _chunks(sorted(articles)):
            rows = session.execute(
                select(URLS.c.article_id, URLS.c.url, URLS.c.last_seen).where(
                    URLS.c.article_id.in_(chunk)
                )
            )
            for aid, url, seen in rows:
                read.setdefault(aid, {})[url] = seen
        pages: dict[str, date | None] = {}
        for aid, (own, day) in articles.items():
            urls = read.get(aid, {})
            if own not in urls:
                if not urls:
                    continue
                own = max(urls, key=lambda u: (urls[u], u))
            if own.startswith(tuple(prefixes)):
                pages[own] = day
        return pages

    def gone_urls(self, prefixes: Iterable[str]) -> set[str]:
        """Every URL under ``prefixes`` of the articles marked gone (their own URL too)."""
        prefixes = list(prefixes)
        if not prefixes:
            return set()

        def work(session: Session) -> set[str]:
            gone = ARTICLES.c.gone_at.is_not(None)
            seen = select(URLS.c.url).join(ARTICLES, ARTICLES.c.id == URLS.c.article_id)
            own = select(ARTICLES.c.url)
            urls: set[str] = set()
            for query, column in ((seen, URLS.c.url), (own, ARTICLES.c.url)):
                query = query.where(gone).where(
                    or_(*(column.startswith(p, autoescape=True) for p in prefixes))
                )
                urls.update(session.execute(query).scalars())
            return urls

        return self._read(work)

    def mark_gone(self, targets: Iterable[str], *, at: datetime, reason: str) -> list[str]:
        """Mark articles gone, noticed at ``at``; returns the ids newly marked.

        ``targets`` are article ids or URLs (any URL an article was seen at, or its own).
        An article already marked, or seen at ``at`` or later (a page of it was fetched
        after this was noticed), is left as it is. Each mark records a ``gone`` event whose
        detail is ``reason`` and the URL it was noticed at. Nothing is ever deleted.
        """
        wanted = list(dict.fromkeys(targets))
        if not wanted:
            return []

        def work(session: Session, _last: bool) -> list[str]:
            owners = self._owners(session, wanted)
            details: dict[str, str] = {}
            for target in wanted:
                for aid in owners.get(target, ()):
                    details.setdefault(aid, reason if target == aid else f"{reason}: {target}")
            return self._mark_gone(session, details, at)

        return self._write(work)

    def mark_checked(
        self, urls: Iterable[str], at: datetime, *, still_there: bool = False
    ) -> list[str]:
        """Record that the articles of ``urls`` were re-checked at ``at``.

        With ``still_there`` (their page answered, e.g. ``304 Not Modified``), an article
        marked gone before ``at`` is back: the mark is cleared and a ``back`` event recorded.
        Returns the ids that came back.
        """
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return []

        def work(session: Session, _last: bool) -> list[str]:
            ids = sorted(
                {aid for owners in self._owners(session, wanted).values() for aid in owners}
            )
            back: list[str] = []
            for chunk in _chunks(ids):
                rows = session.execute(
                    select(ARTICLES.c.id, ARTICLES.c.gone_at)
                    .where(ARTICLES.c.id.in_(chunk))
                    .order_by(ARTICLES.c.id)
                    .with_for_update()
                )
                if still_there:
                    back += [aid for aid, gone in rows if gone is not None and gone < at]
                session.execute(
                    update(ARTICLES)
                    .where(ARTICLES.c.id.in_(chunk))
                    .where(or_(ARTICLES.c.checked_at.is_(None), ARTICLES.c.checked_at < at))
                    .values(checked_at=at)
                )
            for chunk in _chunks(back):
                session.execute(
                    update(ARTICLES).where(ARTICLES.c.id.in_(chunk)).values(gone_at=None)
                )
            self._insert_events(
                session,
                [
                    {"article_id": aid, "kind": "back", "version": None, "at": at, "detail": None}
                    for aid in back
                ],
            )
            return back

        return self._write(work)

    def record_listings(
        self,
        pages: Mapping[str, Sequence[str] | None],
        at: datetime,
        *,
        later_pages: Iterable[str] = (),
    ) -> list[str]:
        """Remember what listing pages showed; mark gone what vanished from them.

        ``pages`` maps each listing page a crawl read (its URL; ``URL#page=N`` for pages
        reached by form POST) to the article URLs it lists in page order, or to None when it
        answered "not modified" (it shows what it showed last time). URLs of no stored
        article are ignored. An article that a page listed last time has vanished when it is
        on none of ``pages`` now while an article listed after it there (an older one:
        listings run newest first) still is on that page, and its own URL is on the
        listing's site (a copy missing from an aggregator says nothing of the original).
        Articles pushed off the end of a page by newer ones have no older one left behind
        them; one moved to another page read in the same crawl is still there. On
        ``later_pages`` (pages past the first of their listing) an article listed before it
        must still be there as well: a deletion further up moves a page's first article to
        the page before, which the crawl may not have read. Returns the ids newly marked gone.
        """
        if not pages:
            return []
        later = set(later_pages)

        def work(session: Session, _last: bool) -> list[str]:
            urls = sorted({url for listed in pages.values() for url in listed or ()})
            owner: dict[str, str] = {}
            for chunk in _chunks(urls):
                rows = session.execute(
                    select(URLS.c.url, URLS.c.article_id).where(URLS.c.url.in_(chunk))
                )
                owner.update({url: aid for url, aid in rows})
            previous: dict[str, list[str]] = {}
            for chunk in _chunks(sorted(pages)):
                rows = session.execute(
                    select(SNAPSHOTS.c.listing, SNAPSHOTS.c.article_ids).where(
                        SNAPSHOTS.c.listing.in_(chunk)
                    )
                )
                previous.update({key: list(ids or []) for key, ids in rows})
            current: dict[str, list[str]] = {}
            for key, listed in pages.items():
                if listed is None:
                    current[key] = previous.get(key, [])
                else:
                    current[key] = list(dict.fromkeys(owner[u] for u in listed if u in owner))
            present = {aid for ids in current.values() for aid in ids}
            candidates: dict[str, str] = {}
            for key, listed in sorted(pages.items()):
                now = set(current[key])
                before = previous.get(key, [])
                if listed is None or not now:
                    continue
                for index, aid in enumerate(before):
                    if aid in present or not any(o in now for o in before[index + 1 :]):
                        continue
                    if key in later and not any(o in now for o in before[:index]):
                        continue
                    candidates.setdefault(aid, key)
            vanished: dict[str, str] = {}
            for chunk in _chunks(sorted(candidates)):
                rows = session.execute(
                    select(ARTICLES.c.id, ARTICLES.c.url).where(ARTICLES.c.id.in_(chunk))
                )
                for aid, own in rows:
                    key = candidates[aid]
                    if _host(own) == _host(key):
                        vanished[aid] = f"vanished from the listing {key}"
            rows = [
                {"listing": key, "article_ids": ids, "seen_at": at}
                for key, ids in sorted(current.items())
                if ids and pages[key] is not None
            ]
            if rows:
                statement = self._insert(SNAPSHOTS)
                statement = statement.on_conflict_do_update(
                    index_elements=["listing"],
                    set_={
                        "article_ids": statement.excluded.article_ids,
                        "seen_at": statement.excluded.seen_at,
                    },
                )
                session.execute(statement, rows)
            return self._mark_gone(session, vanished, at)

        return self._write(work)

    def _owners(self, session: Session, targets: Sequence[str]) -> dict[str, list[str]]:
        """Target (article id or URL) -> the stored articles it names."""
        owners: dict[str, set[str]] = {}
        ids = [t for t in targets if _ID_PATTERN.fullmatch(t)]
        urls = [t for t in targets if not _ID_PATTERN.fullmatch(t)]
        for chunk in _chunks(ids):
            for aid in session.execute(select(ARTICLES.c.id).where(ARTICLES.c.id.in_(chunk))):
                owners.setdefault(aid[0], set()).add(aid[0])
        for chunk in _chunks(urls):
            for url, aid in session.execute(
                select(URLS.c.url, URLS.c.article_id).where(URLS.c.url.in_(chunk))
            ):
                owners.setdefault(url, set()).add(aid)
            for url, aid in session.execute(
                select(ARTICLES.c.url, ARTICLES.c.id).where(ARTICLES.c.url.in_(chunk))
            ):
                owners.setdefault(url, set()).add(aid)
        return {target: sorted(found) for target, found in owners.items()}

    def _mark_gone(self, session: Session, details: Mapping[str, str], at: datetime) -> list[str]:
        """Mark the articles of ``details`` (id -> why) gone at ``at``, in ``session``."""
        marked: list[str] = []
        for chunk in _chunks(sorted(details)):
            rows = session.execute(
                select(ARTICLES.c.id)
                .where(ARTICLES.c.id.in_(chunk))
                .where(ARTICLES.c.gone_at.is_(None))
                .where(ARTICLES.c.last_seen < at)
                .order_by(ARTICLES.c.id)
                .with_for_update()
            )
            found = [aid for (aid,) in rows]
            if found:
                session.execute(update(ARTICLES).where(ARTICLES.c.id.in_(found)).values(gone_at=at))
            marked += found
        self._insert_events(
            session,
            [
                {
                    "article_id": aid,
                    "kind": "gone",
                    "version": None,
                    "at": at,
                    "detail": details[aid],
                }
                for aid in marked
            ],
        )
        return marked

    def _insert_events(self, session: Session, rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows):
            session.execute(EVENTS.insert(), list(chunk))

    def events_after(self, event_id: int, limit: int = 500) -> list[EventView]:
        """Events recorded after the event ``event_id`` (0: from the first), oldest first."""
        query = select(EVENTS).where(EVENTS.c.id > event_id).order_by(EVENTS.c.id).limit(limit)
        return self._read(lambda s: [EventView(**dict(r)) for r in s.execute(query).mappings()])

    def latest_event_id(self) -> int:
        """The id of the latest event, 0 when there is none."""
        query = select(func.coalesce(func.max(EVENTS.c.id), 0))
        return self._read(lambda s: int(s.execute(query).scalar_one()))

    def events_of(self, article_id: str) -> list[EventView]:
        """Every event of one article, oldest first."""
        query = select(EVENTS).where(EVENTS.c.article_id == article_id).order_by(EVENTS.c.id)
        return self._read(lambda s: [EventView(**dict(r)) for r in s.execute(query).mappings()])

    # -- backfill progress ---------------------------------------------------------------

    def backfill_progress(self, source: str) -> dict[str, tuple[int, int | None]]:
        """``listing URL -> (pages done, page count)`` of the source's backfills."""
        query = select(PROGRESS.c.listing_url, PROGRESS.c.pages_done, PROGRESS.c.page_count).where(
            PROGRESS.c.source == source
        )
        return self._read(lambda s: {url: (done, count) for url, done, count in s.execute(query)})

    def save_backfill_progress(
        self, source: str, progress: dict[str, tuple[int, int | None]], at: datetime
    ) -> None:
        """Record how far backfills got; a listing's ``pages_done`` never goes down."""
        if not progress:
            return
        rows = [
            {
                "source": source,
                "listing_url": url,
                "pages_done": done,
                "page_count": count,
                "updated_at": at,
            }
            for url, (done, count) in sorted(progress.items())
        ]

        def work(session: Session, _last: bool) -> None:
            statement = self._insert(PROGRESS)
            excluded = statement.excluded
            statement = statement.on_conflict_do_update(
                index_elements=["source", "listing_url"],
                set_={
                    "pages_done": case(
                        (excluded.pages_done > PROGRESS.c.pages_done, excluded.pages_done),
                        else_=PROGRESS.c.pages_done,
                    ),
                    "page_count": func.coalesce(excluded.page_count, PROGRESS.c.page_count),
                    "updated_at": excluded.updated_at,
                },
            )
            session.execute(statement, rows)

        self._write(work)

    def reset_backfill_progress(self, source: str) -> None:
        """Forget the source's backfill progress: the next backfill starts at page 1."""
        self._write(
            lambda s, _last: s.execute(PROGRESS.delete().where(PROGRESS.c.source == source))
        )

    # -- crawl runs and failures ---------------------------------------------------------

    def start_run(
        self,
        source: str,
        started_at: datetime,
        *,
        kind: str = "crawl",
        pid: int | None = None,
        host: str | None = None,
    ) -> int:
        """Record a crawl run as running; returns its id. ``pid`` and ``host`` name the
        process that will record its outcome (see :meth:`settle_dead_runs`)."""

        def work(session: Session, _last: bool) -> int:
            statement = (
                self._insert(RUNS)
                .values(
                    source=source,
                    started_at=started_at,
                    status="running",
                    pages=0,
                    new=0,
                    changed=0,
                    unchanged=0,
                    failures=0,
                    kind=kind,
                    pid=pid,
                    host=host,
                )
                .returning(RUNS.c.id)
            )
            return int(session.execute(statement).scalar_one())

        return self._write(work)

    def claim_run(self, run_id: int, *, kind: str, pid: int, host: str) -> None:
        """Make the process ``pid`` on ``host`` the one that records the run's outcome (a
        daemon records a run, then hands it to the crawl it starts)."""

        def work(session: Session, _last: bool) -> None:
            result = session.execute(
                update(RUNS).where(RUNS.c.id == run_id).values(kind=kind, pid=pid, host=host)
            )
            if result.rowcount == 0:
                raise UnknownRun(f"no crawl run with id {run_id}")

        self._write(work)

    def update_run_counts(
        self,
        run_id: int,
        *,
        pages: int,
        new: int,
        changed: int,
        unchanged: int,
        failures: int,
    ) -> None:
        """Keep a running run's counters current, so that a crawl that dies leaves them."""

        def work(session: Session, _last: bool) -> None:
            session.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "running")
                .values(
                    pages=pages, new=new, changed=changed, unchanged=unchanged, failures=failures
                )
            )

        self._write(work)

    def settle_dead_runs(
        self, *, host: str, is_alive: Callable[[int], bool], at: datetime
    ) -> list[RunView]:
        """Record as interrupted the runs left ``running`` on ``host`` by a process that no
        longer exists (``is_alive(pid)`` is false), keeping their counters; returns them."""

        def find(session: Session) -> list[tuple[int, int]]:
            rows = session.execute(
                select(RUNS.c.id, RUNS.c.pid).where(
                    RUNS.c.status == "running", RUNS.c.host == host, RUNS.c.pid.is_not(None)
                )
            )
            return [(int(run_id), int(pid)) for run_id, pid in rows]

        dead = [run_id for run_id, pid in self._read(find) if not is_alive(pid)]
        settled = []
        for run_id in dead:
            closed = self.close_run(
                run_id,
                finished_at=at,
                status="interrupted",
                error="the crawl process ended before it recorded the end of the run",
            )
            view = self.get_run(run_id) if closed else None
            if view is not None:
                settled.append(view)
        return settled

    def last_crawl_unfinished(self, source: str, *, before_run: int | None = None) -> bool:
        """Whether the latest crawl of ``source`` (before run ``before_run``) did not end
        ``ok``: it may have stored some of its listings' articles and not others."""

        def work(session: Session) -> bool:
            query = select(RUNS.c.status).where(
                RUNS.c.source == source, or_(RUNS.c.kind == "crawl", RUNS.c.kind.is_(None))
            )
            if before_run is not None:
                query = query.where(RUNS.c.id < before_run)
            status = session.execute(query.order_by(RUNS.c.id.desc()).limit(1)).scalar()
            return status is not None and status != "ok"

        return self._read(work)

    def finish_run(
        self,
        run_id: int,
        *,
        finished_at: datetime,
        status: str,
        pages: int,
        new: int,
        changed: int,
        unchanged: int,
        failures: int,
        error: str | None = None,
    ) -> None:
        """Close a crawl run with its final status (ok, failed or interrupted) and counters."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(
                f"a finished run's status is ok, failed or interrupted, not {status!r}"
            )

        def work(session: Session, _last: bool) -> None:
            result = session.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id)
                .values(
                    finished_at=finished_at,
                    status=status,
                    pages=pages,
                    new=new,
                    changed=changed,
                    unchanged=unchanged,
                    failures=failures,
                    error=error,
                )
            )
            if result.rowcount == 0:
                raise UnknownRun(f"no crawl run with id {run_id}")

        self._write(work)

    def record_failures(self, run_id: int | None, failures: Sequence[FailureInput]) -> None:
        """Record pages that could not be fetched or parsed, optionally tied to a run."""
        rows = [
            {
                "run_id": run_id,
                "url": f.url,
                "reason": f.reason,
                "at": f.at,
                "listed_on": f.listed_on,
            }
            for f in failures
        ]
        if not rows:
            return

        def work(session: Session, _last: bool) -> None:
            for chunk in _chunks(rows):
                session.execute(self._insert(FAILURES).values(list(chunk)))

        self._write(work)

    def recent_runs(
        self, limit: int = 20, source: str | None = None, status: str | None = None
    ) -> list[RunView]:
        """The latest runs, newest first; optionally of one source, or in one status."""
        query = select(RUNS).order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(limit)
        if source is not None:
            query = query.where(RUNS.c.source == source)
        if status is not None:
            query = query.where(RUNS.c.status == status)
        return self._read(lambda s: [RunView(**dict(row)) for row in s.execute(query).mappings()])

    def get_run(self, run_id: int) -> RunView | None:
        """One run by id, or None."""
        query = select(RUNS).where(RUNS.c.id == run_id)

        def work(session: Session) -> RunView | None:
            row = session.execute(query).mappings().first()
            return RunView(**dict(row)) if row is not None else None

        return self._read(work)

    def close_run(
        self, run_id: int, *, finished_at: datetime, status: str, error: str | None
    ) -> bool:
        """Close a run that is still ``running`` (its crawl died or was stopped before it could
        record its end), keeping its counters. False when the run was already closed."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(
                f"a finished run's status is ok, failed or interrupted, not {status!r}"
            )

        def work(session: Session, _last: bool) -> bool:
            result = session.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "running")
                .values(finished_at=finished_at, status=status, error=error)
            )
            return bool(result.rowcount)

        return self._write(work)

    # -- the monitoring daemon's state ---------------------------------------------------

    def save_source_state(self, state: SourceState) -> None:
        """Create or replace the daemon's state row of ``state.source``."""
        row = {
            "source": state.source,
            "schedule": state.schedule,
            "next_run_at": state.next_run_at,
            "current_run_id": state.current_run_id,
            "last_error": state.last_error,
            "last_error_at": state.last_error_at,
            "failures_in_row": state.failures_in_row,
            "paused_until": state.paused_until,
            "pid": state.pid,
            "host": state.host,
            "updated_at": state.updated_at,
        }

        def work(session: Session, _last: bool) -> None:
            statement = self._insert(STATES).values(row)
            statement = statement.on_conflict_do_update(
                index_elements=["source"],
                set_={name: statement.excluded[name] for name in row if name != "source"},
            )
            session.execute(statement)

        self._write(work)

    def source_states(self) -> dict[str, SourceState]:
        """Every source's daemon state, by source."""
        query = select(STATES).order_by(STATES.c.source)
        return self._read(
            lambda s: {
                row["source"]: SourceState(**dict(row)) for row in s.execute(query).mappings()
            }
        )

    def last_failures(self, limit: int = 20) -> list[FailureView]:
        """The latest failures, newest first."""
        query = select(FAILURES).order_by(FAILURES.c.at.desc(), FAILURES.c.id.desc()).limit(limit)
        return self._read(
            lambda s: [FailureView(**dict(row)) for row in s.execute(query).mappings()]
        )

    # -- articles: reading ---------------------------------------------------------------

    def get_article(self, id_or_prefix: str) -> ArticleView | None:
        """The article with this id, or the only one whose id starts with this prefix (at
        least 4 hex characters), with its full history. None when nothing matches; raises
        :class:`AmbiguousId` for a too short or ambiguous prefix."""
        wanted = id_or_prefix.strip().lower()
        if not re.fullmatch(r"[0-9a-f]+", wanted):
            return None
        if len(wanted) < MIN_PREFIX:
            raise AmbiguousId(
                f"article id prefix {wanted!r} is too short: give at least {MIN_PREFIX} characters"
            )

        def work(session: Session) -> ArticleView | None:
            if len(wanted) >= ID_LENGTH:
                condition = ARTICLES.c.id == wanted
            else:
                condition = ARTICLES.c.id.startswith(wanted, autoescape=True)
            rows = session.execute(
                select(ARTICLES).where(condition).order_by(ARTICLES.c.id).limit(6)
            ).mappings()
            found = list(rows)
            if len(found) > 1:
                ids = tuple(r["id"] for r in found)
                shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
                raise AmbiguousId(
                    f"article id prefix {wanted!r} matches several articles: {shown}", ids
                )
            views = self._views(session, found, with_history=True)
            return views[0] if views else None

        return self._read(work)

    def iter_articles(
        self,
        *,
        since: date | None = None,
        until: date | None = None,
        source: str | None = None,
        with_history: bool = False,
    ) -> Iterator[ArticleView]:
        """Every article, ordered by publication date then id, read in chunks.

        ``since`` and ``until`` are inclusive publication dates; when either is given,
        undated articles are left out, otherwise they come last (ordered by id). Each chunk
        is its own short transaction, so a long export never blocks writers.
        """
        dated = select(ARTICLES).where(ARTICLES.c.published.is_not(None))
        if since is not None:
            dated = dated.where(ARTICLES.c.published >= since)
        if until is not None:
            dated = dated.where(ARTICLES.c.published <= until)
        if source is not None:
            dated = dated.where(ARTICLES.c.source == source)
        yield from self._keyset(dated, with_history, by_date=True)
        if since is None and until is None:
            undated = select(ARTICLES).where(ARTICLES.c.published.is_(None))
            if source is not None:
                undated = undated.where(ARTICLES.c.source == source)
            yield from self._keyset(undated, with_history, by_date=False)

    def _keyset(
        self, base: Select[Any], with_history: bool, *, by_date: bool
    ) -> Iterator[ArticleView]:
        after: tuple[Any, str] | None = None
        while True:
            query = base
            if after is not None:
                day, last_id = after
                if by_date:
                    query = query.where(
                        (ARTICLES.c.published > day)
                        | ((ARTICLES.c.published == day) & (ARTICLES.c.id > last_id))
                    )
                else:
                    query = query.where(ARTICLES.c.id > last_id)
            order = (ARTICLES.c.published, ARTICLES.c.id) if by_date else (ARTICLES.c.id,)
            query = query.order_by(*order).limit(self._chunk_size)

            def work(session: Session, query: Select[Any] = query) -> list[ArticleView]:
                rows = list(session.execute(query).mappings())
                return self._views(session, rows, with_history=with_history)

            views = self._read(work)
            yield from views
            if len(views) < self._chunk_size:
                return
            after = (views[-1].published, views[-1].id)

    def list_articles(
        self, *, limit: int = 50, offset: int = 0, source: str | None = None
    ) -> list[ArticleView]:
        """A page of articles, newest publication date first (undated last)."""
        query = (
            select(ARTICLES)
            .order_by(
                ARTICLES.c.published.desc().nulls_last(),
                ARTICLES.c.first_seen.desc(),
                ARTICLES.c.id.desc(),
            )
            .limit(limit)
            .offset(offset)
        )
        if source is not None:
            query = query.where(ARTICLES.c.source == source)
        return self._read(
            lambda s: self._views(s, list(s.execute(query).mappings()), with_history=False)
        )

    def count_articles(self, *, first_seen_since: datetime | None = None) -> int:
        """Number of articles, optionally only those first seen at or after a moment."""
        query = select(func.count()).select_from(ARTICLES)
        if first_seen_since is not None:
            query = query.where(ARTICLES.c.first_seen >= first_seen_since)
        return self._read(lambda s: int(s.execute(query).scalar_one()))

    def _views(
        self, session: Session, rows: Sequence[Any], *, with_history: bool
    ) -> list[ArticleView]:
        ids = [r["id"] for r in rows]
        urls: dict[str, list[UrlView]] = {i: [] for i in ids}
        history: dict[str, list[VersionView]] = {i: [] for i in ids}
        if ids:
            for row in session.execute(
                select(URLS)
                .where(URLS.c.article_id.in_(ids))
                .order_by(URLS.c.first_seen, URLS.c.url)
            ):
                urls[row.article_id].append(UrlView(row.url, row.first_seen, row.last_seen))
            if with_history:
                for row in session.execute(
                    select(VERSIONS)
                    .where(VERSIONS.c.article_id.in_(ids))
                    .order_by(VERSIONS.c.article_id, VERSIONS.c.number)
                ):
                    history[row.article_id].append(
                        VersionView(
                            row.number,
                            row.title,
                            row.text,
                            row.content_hash,
                            row.dateline,
                            row.first_seen,
                        )
                    )
        return [
            ArticleView(
                id=r["id"],
                url=r["url"],
                urls=urls[r["id"]],
                source=r["source"],
                title=r["title"],
                published=r["published"],
                published_from=r["published_from"],
                dateline=r["dateline"],
                text=r["text"],
                categories=list(r["categories"] or []),
                first_seen=r["first_seen"],
                last_seen=r["last_seen"],
                content_hash=r["content_hash"],
                versions=r["version_count"],
                history=history[r["id"]],
                gone_at=r["gone_at"],
            )
            for r in rows
        ]


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _batch_events(
    states: Sequence[ArticleState],
    created: Iterable[tuple[Any, ...]],
    stored: Iterable[tuple[Any, ...]],
) -> list[dict[str, Any]]:
    """The events of a written batch: ``new`` for the articles it created, ``edited`` for the
    versions it added to known ones, ``back`` for gone ones it saw again; in time order."""
    made = {row[0] for row in created}
    added = {(row[0], row[1]) for row in stored}
    events: list[dict[str, Any]] = []
    for state in states:
        for version in state.new_versions:
            number = version["number"]
            if (state.id, number) not in added:
                continue
            kind = "new" if number == 1 and state.id in made else "edited"
            if kind == "edited" and number == 1:
                continue  # a concurrent writer created the article: its event is its own
            events.append(
                {
                    "article_id": state.id,
                    "kind": kind,
                    "version": number,
                    "at": version["first_seen"],
                    "detail": None,
                }
            )
        if state.came_back is not None and not state.is_new:
            events.append(
                {
                    "article_id": state.id,
                    "kind": "back",
                    "version": None,
                    "at": state.came_back,
                    "detail": None,
                }
            )
    order = {"new": 0, "back": 1, "edited": 2}
    events.sort(key=lambda e: (e["at"], e["article_id"], order[e["kind"]], e["version"] or 0))
    return events
