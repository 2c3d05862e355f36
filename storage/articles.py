"""The articles aggregate: saving sightings, reading articles with their URLs and versions,
and the events that happened to them.

:meth:`Articles.save` resolves and writes a batch (see :mod:`storage.batch`); the other
methods read. Every method is one unit of work (see :mod:`storage.unit`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Engine, Select, func, or_, select, update
from sqlalchemy.orm import Session

from storage.batch import save_batch
from storage.errors import AmbiguousId
from storage.keys import ID_LENGTH
from storage.merge import DEFAULT_AGGREGATOR_HOSTS
from storage.models import ARTICLES, EVENTS, URLS, VERSIONS
from storage.paging import order
from storage.records import (
    ArticleInput,
    ArticleView,
    EventView,
    SaveResult,
    UrlView,
    VersionView,
)
from storage.unit import UnitOfWork, chunks

#: Shortest id prefix :meth:`Articles.get` accepts.
MIN_PREFIX = 4
#: How :meth:`Articles.newest` orders a page: by publication date, or by arrival.
ArticleOrder = Literal["published", "first-seen"]
ARTICLE_ORDERS: tuple[str, ...] = get_args(ArticleOrder)


class Articles(UnitOfWork):
    """The archived articles. ``aggregator_hosts`` names sites whose URLs are copies, never
    an article's preferred URL; ``chunk_size`` is how many articles :meth:`iterate` reads per
    transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        aggregator_hosts: Iterable[str] = DEFAULT_AGGREGATOR_HOSTS,
        chunk_size: int = 200,
    ) -> None:
        super().__init__(engine)
        self._aggregators = frozenset(h.lower() for h in aggregator_hosts)
        self._chunk_size = chunk_size

    # -- writing -------------------------------------------------------------------------

    def save(self, items: Sequence[ArticleInput]) -> list[SaveResult]:
        """Store a batch of sightings (and their pages) in one transaction; one result per
        input, in order."""
        if not items:
            return []
        return self._write_attempts(
            lambda session, last: save_batch(session, items, self._aggregators, last=last)
        )

    def add_categories(self, categories: Mapping[str, Iterable[str]]) -> set[str]:
        """Add categories to stored articles, by any URL an article was seen at (a listing
        showed it there): ``url -> categories``. Returns the URLs of stored articles; the
        others are left for later. Categories are no part of a version: none is made."""
        wanted = {url: list(dict.fromkeys(cats)) for url, cats in categories.items() if cats}
        if not wanted:
            return set()

        def work(session: Session) -> set[str]:
            owners: dict[str, str] = {}
            for chunk in chunks(sorted(wanted)):
                query = select(URLS.c.url, URLS.c.article_id).where(URLS.c.url.in_(chunk))
                owners.update({url: aid for url, aid in session.execute(query)})
            added: dict[str, list[str]] = {}
            for url, aid in sorted(owners.items()):
                added.setdefault(aid, []).extend(wanted[url])
            for chunk in chunks(sorted(added)):
                query = select(ARTICLES.c.id, ARTICLES.c.categories).where(ARTICLES.c.id.in_(chunk))
                for aid, stored in session.execute(query.with_for_update()):
                    merged = list(dict.fromkeys([*(stored or []), *added[aid]]))
                    if merged != list(stored or []):
                        session.execute(
                            update(ARTICLES).where(ARTICLES.c.id == aid).values(categories=merged)
                        )
            return set(owners)

        return self._write(work)

    # -- reading -------------------------------------------------------------------------

    def get(self, id_or_prefix: str) -> ArticleView | None:
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
            views = _views(session, found, with_history=True)
            return views[0] if views else None

        return self._read(work)

    def id_at(self, url: str) -> str | None:
        """The id of the article read at ``url``; None when no article was read there."""
        query = select(URLS.c.article_id).where(URLS.c.url == url)
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    def iterate(
        self,
        *,
        since: date | None = None,
        until: date | None = None,
        source: str | None = None,
        with_history: bool = False,
        newest_first: bool = False,
    ) -> Iterator[ArticleView]:
        """Every article, ordered by publication date then id (``newest_first``: both
        descending), read in chunks.

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
        yield from self._keyset(dated, with_history, by_date=True, descending=newest_first)
        if since is None and until is None:
            undated = select(ARTICLES).where(ARTICLES.c.published.is_(None))
            if source is not None:
                undated = undated.where(ARTICLES.c.source == source)
            yield from self._keyset(undated, with_history, by_date=False, descending=newest_first)

    def _keyset(
        self, base: Select[Any], with_history: bool, *, by_date: bool, descending: bool
    ) -> Iterator[ArticleView]:
        day_column, id_column = ARTICLES.c.published, ARTICLES.c.id
        after: tuple[Any, str] | None = None
        while True:
            query = base
            if after is not None:
                day, last_id = after
                past_id = id_column < last_id if descending else id_column > last_id
                if by_date:
                    past_day = day_column < day if descending else day_column > day
                    query = query.where(past_day | ((day_column == day) & past_id))
                else:
                    query = query.where(past_id)
            order = (day_column, id_column) if by_date else (id_column,)
            if descending:
                order = tuple(column.desc() for column in order)
            query = query.order_by(*order).limit(self._chunk_size)

            def work(session: Session, query: Select[Any] = query) -> list[ArticleView]:
                rows = list(session.execute(query).mappings())
                return _views(session, rows, with_history=with_history)

            views = self._read(work)
            yield from views
            if len(views) < self._chunk_size:
                return
            after = (views[-1].published, views[-1].id)

    def newest(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        source: str | None = None,
        sort: ArticleOrder = "published",
    ) -> list[ArticleView]:
        """A page of articles, newest first: by publication date (undated last), or with
        ``sort="first-seen"`` by when the archive first stored them (arrivals first)."""
        if sort not in ARTICLE_ORDERS:
            raise ValueError(f"unknown order {sort!r} (known: {', '.join(ARTICLE_ORDERS)})")
        # The same order as the archive's pages, so both read it from the same index.
        query = select(ARTICLES).order_by(*order(sort)).limit(limit).offset(offset)
        if source is not None:
            query = query.where(ARTICLES.c.source == source)
        return self._read(
            lambda s: _views(s, list(s.execute(query).mappings()), with_history=False)
        )

    def count(self, *, first_seen_since: datetime | None = None) -> int:
        """Number of articles, optionally only those first seen at or after a moment."""
        query = select(func.count()).select_from(ARTICLES)
        if first_seen_since is not None:
            query = query.where(ARTICLES.c.first_seen >= first_seen_since)
        return self._read(lambda s: int(s.execute(query).scalar_one()))

    def last_url_first_seen(self, prefixes: Sequence[str]) -> datetime | None:
        """When an article was first read at a URL starting with one of ``prefixes``, latest."""
        if not prefixes:
            return None
        conditions = [URLS.c.url.startswith(prefix, autoescape=True) for prefix in prefixes]
        query = select(func.max(URLS.c.first_seen)).where(or_(*conditions))
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    # -- events --------------------------------------------------------------------------

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

    def recent_events(self, kinds: Sequence[str], limit: int = 50) -> list[EventView]:
        """The latest article events of these kinds, newest first."""
        query = (
            select(EVENTS)
            .where(EVENTS.c.kind.in_(list(kinds)))
            .order_by(EVENTS.c.id.desc())
            .limit(limit)
        )
        return self._read(lambda s: [EventView(**dict(r)) for r in s.execute(query).mappings()])

    def changes_between(
        self,
        start: datetime,
        end: datetime,
        prefixes: Sequence[str],
        kinds: Sequence[str] = ("gone", "edited"),
    ) -> list[EventView]:
        """The events of these kinds recorded from ``start`` to ``end`` (both included) of
        the articles read at a URL starting with one of ``prefixes``, oldest first."""
        if not prefixes:
            return []
        under = [URLS.c.url.startswith(prefix, autoescape=True) for prefix in prefixes]
        query = (
            select(EVENTS)
            .where(EVENTS.c.kind.in_(list(kinds)))
            .where(EVENTS.c.at >= start, EVENTS.c.at <= end)
            .where(EVENTS.c.article_id.in_(select(URLS.c.article_id).where(or_(*under))))
            .order_by(EVENTS.c.id)
        )
        return self._read(lambda s: [EventView(**dict(r)) for r in s.execute(query).mappings()])

    def count_read_under(self, prefixes: Sequence[str]) -> int:
        """Number of articles read at a URL starting with one of ``prefixes``."""
        if not prefixes:
            return 0
        under = [URLS.c.url.startswith(prefix, autoescape=True) for prefix in prefixes]
        query = select(func.count(func.distinct(URLS.c.article_id))).where(or_(*under))
        return self._read(lambda s: int(s.execute(query).scalar_one()))

    def event_counts(self) -> dict[str, int]:
        """Article events recorded, by kind."""
        query = select(EVENTS.c.kind, func.count()).group_by(EVENTS.c.kind)
        return self._read(lambda s: {kind: int(n) for kind, n in s.execute(query)})


def _views(session: Session, rows: Sequence[Any], *, with_history: bool) -> list[ArticleView]:
    """The views of ``articles`` rows: with their URLs, and their versions if asked."""
    ids = [r["id"] for r in rows]
    urls: dict[str, list[UrlView]] = {i: [] for i in ids}
    history: dict[str, list[VersionView]] = {i: [] for i in ids}
    if ids:
        for row in session.execute(
            select(URLS).where(URLS.c.article_id.in_(ids)).order_by(URLS.c.first_seen, URLS.c.url)
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
