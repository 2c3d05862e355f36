"""The crawl state aggregate: what a crawl knows before it starts and what it leaves for
the next one.

Known and failed URLs, HTTP validators (ETag / Last-Modified), the pages due for a revisit
or a recheck, gone marks and what listing pages showed (see :mod:`storage.gone`), and how far
backfills got. Every method is one unit of work (see :mod:`storage.unit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from storage import gone, sweeps
from storage.models import ARTICLES, FAILURES, PROGRESS, URLS, VALIDATORS
from storage.sweeps import SweepProgress
from storage.unit import UnitOfWork, chunks, insert, upsert

#: ``url -> (etag, last_modified)``
Validators = dict[str, tuple[str | None, str | None]]


class CrawlState(UnitOfWork):
    """What crawls know of the sites, beyond the articles themselves."""

    # -- known and failed URLs ------------------------------------------------------------

    def known_titles(self, prefixes: Iterable[str]) -> dict[str, str]:
        """The stored article URLs under ``prefixes``, each with its article's title."""
        prefixes = list(prefixes)
        if not prefixes:
            return {}
        query = (
            select(URLS.c.url, ARTICLES.c.title)
            .join(ARTICLES, ARTICLES.c.id == URLS.c.article_id)
            .where(_under(URLS.c.url, prefixes))
        )
        return self._read(lambda s: {url: title for url, title in s.execute(query)})

    def failed_urls(self, prefixes: Iterable[str], since: datetime) -> dict[str, date | None]:
        """URLs under ``prefixes`` that failed since ``since`` and hold no stored article,
        with the date a listing gave them (None when none did)."""
        prefixes = list(prefixes)
        if not prefixes:
            return {}
        query = (
            select(FAILURES.c.url, func.max(FAILURES.c.listed_on))
            .where(FAILURES.c.at >= since)
            .where(_under(FAILURES.c.url, prefixes))
            .where(~select(URLS.c.url).where(URLS.c.url == FAILURES.c.url).exists())
            .group_by(FAILURES.c.url)
        )
        return self._read(lambda s: {url: listed_on for url, listed_on in s.execute(query)})

    def failure_categories(self, urls: Iterable[str]) -> dict[str, str]:
        """The category of the listing that linked each of ``urls`` when it last failed
        with one (URLs that failed without one are left out)."""
        wanted = sorted(set(urls))
        query = (
            select(FAILURES.c.url, FAILURES.c.category)
            .where(FAILURES.c.category.is_not(None))
            .order_by(FAILURES.c.at, FAILURES.c.id)
        )

        def work(session: Session) -> dict[str, str]:
            found: dict[str, str] = {}
            for chunk in chunks(wanted):
                found.update(
                    {u: c for u, c in session.execute(query.where(FAILURES.c.url.in_(chunk)))}
                )
            return found

        return self._read(work)

    # -- validators ------------------------------------------------------------------------

    def validators(
        self,
        prefixes: Iterable[str],
        *,
        listings_only: bool = False,
        urls: Iterable[str] | None = None,
    ) -> Validators:
        """``url -> (etag, last_modified)`` of the stored validators under ``prefixes``.

        ``listings_only`` leaves out the URLs articles were read at; ``urls`` (when given)
        restricts the answer to those URLs.
        """
        prefixes = list(prefixes)
        wanted = sorted(set(urls)) if urls is not None else None
        query = select(VALIDATORS.c.url, VALIDATORS.c.etag, VALIDATORS.c.last_modified)
        if prefixes:
            query = query.where(_under(VALIDATORS.c.url, prefixes))
        if listings_only:
            query = query.where(~select(URLS.c.url).where(URLS.c.url == VALIDATORS.c.url).exists())

        def work(session: Session) -> Validators:
            if wanted is None:
                rows = list(session.execute(query))
            else:
                rows = []
                for chunk in chunks(wanted):
                    rows += session.execute(query.where(VALIDATORS.c.url.in_(chunk)))
            return {url: (etag, modified) for url, etag, modified in rows}

        return self._read(work)

    def save_validators(self, validators: Validators, at: datetime) -> None:
        """Store (or replace) the validators of each URL's latest fetch."""
        if not validators:
            return
        rows = [
            {"url": url, "etag": etag, "last_modified": modified, "updated_at": at}
            for url, (etag, modified) in sorted(validators.items())
        ]
        columns = ("etag", "last_modified", "updated_at")
        self._write(lambda s: s.execute(upsert(s, VALIDATORS, ["url"], columns), rows))

    # -- revisits and rechecks ---------------------------------------------------------------

    def due_for_revisit(
        self, prefixes: Iterable[str], *, young_since: datetime, checked_before: datetime
    ) -> dict[str, date | None]:
        """Pages to fetch again of young articles not checked since ``checked_before``, with
        the articles' publication dates.

        An article is young when it was published on or after ``young_since`` (undated: first
        seen since then). An article never re-checked counts as checked when it was first
        seen. Articles marked gone are included, so that one coming back is noticed. Which
        page: see :func:`_pages_to_check`.
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
        return self._read(lambda s: _pages_to_check(s, query, prefixes))

    def urls_for_recheck(
        self,
        prefixes: Iterable[str],
        *,
        since: date | None = None,
        until: date | None = None,
        ids: Iterable[str] = (),
    ) -> dict[str, date | None]:
        """Pages to fetch again (see :func:`_pages_to_check`) of the articles published from
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
                return _pages_to_check(session, query, prefixes)
            found: dict[str, date | None] = {}
            for chunk in chunks(wanted):
                chosen = query.where(ARTICLES.c.id.in_(chunk))
                found.update(_pages_to_check(session, chosen, prefixes))
            return found

        return self._read(work)

    def due_for_sweep(
        self, prefixes: Iterable[str], *, checked_before: datetime, limit: int
    ) -> dict[str, date | None]:
        """Pages to fetch again (see :func:`_pages_to_check`) of up to ``limit`` of the
        source's articles never re-checked (the newest first) or last checked before
        ``checked_before`` (the least recently checked first); with their publication dates.
        Articles marked gone are included, so that one coming back is noticed."""
        prefixes = list(prefixes)
        if not prefixes or limit <= 0:
            return {}
        query = sweeps.due_query(prefixes, checked_before, limit)
        return self._read(lambda s: _pages_to_check(s, query, prefixes))

    def sweep_progress(self, prefixes: Iterable[str], *, since: datetime) -> SweepProgress:
        """How many of the source's articles (see :mod:`storage.sweeps`) were re-checked
        since ``since``, how many never were, and the oldest check."""
        prefixes = list(prefixes)
        if not prefixes:
            return SweepProgress(0, 0, 0, None)
        query = sweeps.progress_query(prefixes, since)

        def work(session: Session) -> SweepProgress:
            total, checked, never, oldest = session.execute(query).one()
            return SweepProgress(int(total), int(checked), int(never), oldest)

        return self._read(work)

    # -- gone marks and listings ---------------------------------------------------------

    def gone_urls(self, prefixes: Iterable[str]) -> set[str]:
        """Every URL under ``prefixes`` of the articles marked gone (their own URL too)."""
        prefixes = list(prefixes)
        if not prefixes:
            return set()
        gone_now = ARTICLES.c.gone_at.is_not(None)
        seen = select(URLS.c.url).join(ARTICLES, ARTICLES.c.id == URLS.c.article_id)
        queries = [
            seen.where(gone_now).where(_under(URLS.c.url, prefixes)),
            select(ARTICLES.c.url).where(gone_now).where(_under(ARTICLES.c.url, prefixes)),
        ]
        return self._read(lambda s: {url for q in queries for url in s.execute(q).scalars()})

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

        def work(session: Session) -> list[str]:
            details: dict[str, str] = {}
            found = gone.owners(session, wanted)
            for target in wanted:
                for aid in found.get(target, ()):
                    details.setdefault(aid, reason if target == aid else f"{reason}: {target}")
            return gone.mark_gone(session, details, at)

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
        return self._write(lambda s: gone.mark_checked(s, wanted, at, still_there=still_there))

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
        listings run newest first) still is on that page, and the listing's site is the
        article's home: that of its own URL if a page was ever read there, else that of the
        pages it was read at (a copy missing from an aggregator says nothing of the original;
        an article read only on an aggregator, its own URL an unread "original" link, is gone
        when it vanishes from the aggregator's listing).
        Articles pushed off the end of a page by newer ones have no older one left behind
        them; one moved to another page read in the same crawl is still there. On
        ``later_pages`` (pages past the first of their listing) an article listed before it
        must still be there as well: a deletion further up moves a page's first article to
        the page before, which the crawl may not have read. Returns the ids newly marked gone.
        """
        if not pages:
            return []
        later = set(later_pages)
        return self._write(lambda s: gone.record_listings(s, pages, at, later))

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

        def work(session: Session) -> None:
            statement = insert(session, PROGRESS)
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
        self._write(lambda s: s.execute(PROGRESS.delete().where(PROGRESS.c.source == source)))


def _under(column: Any, prefixes: Sequence[str]) -> Any:
    """``column`` starts with one of ``prefixes``."""
    return or_(*(column.startswith(p, autoescape=True) for p in prefixes))


def _pages_to_check(
    session: Session, query: Select[Any], prefixes: Sequence[str]
) -> dict[str, date | None]:
    """The page to fetch again of each article ``query`` selects (id, url, published), when
    it is under ``prefixes``: the article's own URL (the publisher's) if a page was ever read
    there, else the URL it was last read at. One page per article: a copy on an aggregator is
    not checked while its original is."""
    articles = {aid: (own, day) for aid, own, day in session.execute(query)}
    read: dict[str, dict[str, datetime]] = {}
    for chunk in chunks(sorted(articles)):
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
