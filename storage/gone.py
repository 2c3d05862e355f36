"""Gone marks and what listing pages showed: the session-level work of
:meth:`storage.crawl_state.CrawlState.mark_gone`, ``mark_checked`` and ``record_listings``.

An article is never deleted: it is marked gone (``articles.gone_at``) with a ``gone`` event,
and the mark is cleared with a ``back`` event when it is seen again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from storage.events import event_row, insert_events
from storage.keys import ID_LENGTH
from storage.models import ARTICLES, SNAPSHOTS, URLS
from storage.unit import chunks, upsert

#: An article id, as opposed to a URL, among the targets of a gone mark.
_ID_PATTERN = re.compile(rf"[0-9a-f]{{{ID_LENGTH}}}")


def owners(session: Session, targets: Sequence[str]) -> dict[str, list[str]]:
    """Target (article id, URL it was read at, or its own URL) -> the stored articles it
    names."""
    found: dict[str, set[str]] = {}
    ids = [t for t in targets if _ID_PATTERN.fullmatch(t)]
    urls = [t for t in targets if not _ID_PATTERN.fullmatch(t)]
    for chunk in chunks(ids):
        for (aid,) in session.execute(select(ARTICLES.c.id).where(ARTICLES.c.id.in_(chunk))):
            found.setdefault(aid, set()).add(aid)
    for chunk in chunks(urls):
        for url, aid in session.execute(
            select(URLS.c.url, URLS.c.article_id).where(URLS.c.url.in_(chunk))
        ):
            found.setdefault(url, set()).add(aid)
        for url, aid in session.execute(
            select(ARTICLES.c.url, ARTICLES.c.id).where(ARTICLES.c.url.in_(chunk))
        ):
            found.setdefault(url, set()).add(aid)
    return {target: sorted(articles) for target, articles in found.items()}


def mark_gone(session: Session, details: Mapping[str, str], at: datetime) -> list[str]:
    """Mark the articles of ``details`` (id -> why) gone at ``at``, unless marked already or
    seen at ``at`` or later; records their ``gone`` events. Returns the ids marked."""
    marked: list[str] = []
    for chunk in chunks(sorted(details)):
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
    insert_events(session, [event_row(aid, "gone", at, detail=details[aid]) for aid in marked])
    return marked


def mark_checked(
    session: Session, targets: Sequence[str], at: datetime, *, still_there: bool
) -> list[str]:
    """Record the articles of ``targets`` as re-checked at ``at``; with ``still_there``, clear
    the gone mark of those marked before ``at`` (a ``back`` event each). Returns those ids."""
    ids = sorted({aid for found in owners(session, targets).values() for aid in found})
    back: list[str] = []
    for chunk in chunks(ids):
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
    for chunk in chunks(back):
        session.execute(update(ARTICLES).where(ARTICLES.c.id.in_(chunk)).values(gone_at=None))
    insert_events(session, [event_row(aid, "back", at) for aid in back])
    return back


def record_listings(
    session: Session,
    pages: Mapping[str, Sequence[str] | None],
    at: datetime,
    later: Iterable[str],
) -> list[str]:
    """Remember what listing pages showed and mark gone what vanished from them (see
    :meth:`storage.crawl_state.CrawlState.record_listings`). Returns the ids marked."""
    urls = sorted({url for listed in pages.values() for url in listed or ()})
    owner: dict[str, str] = {}
    for chunk in chunks(urls):
        rows = session.execute(select(URLS.c.url, URLS.c.article_id).where(URLS.c.url.in_(chunk)))
        owner.update({url: aid for url, aid in rows})
    previous = _snapshots(session, sorted(pages))
    current: dict[str, list[str]] = {}
    for key, listed in pages.items():
        if listed is None:
            current[key] = previous.get(key, [])
        else:
            current[key] = list(dict.fromkeys(owner[u] for u in listed if u in owner))
    candidates = _vanished(pages, previous, current, set(later))
    homes = _home_hosts(session, sorted(candidates))
    vanished = {
        aid: f"vanished from the listing {key}"
        for aid, key in candidates.items()
        if _host(key) in homes.get(aid, ())
    }
    rows = [
        {"listing": key, "article_ids": ids, "seen_at": at}
        for key, ids in sorted(current.items())
        if ids and pages[key] is not None
    ]
    if rows:
        session.execute(upsert(session, SNAPSHOTS, ["listing"], ["article_ids", "seen_at"]), rows)
    return mark_gone(session, vanished, at)


def _home_hosts(session: Session, ids: Sequence[str]) -> dict[str, set[str]]:
    """Article id -> the hosts of the site it is at home on: its own URL's (the publisher's),
    if a page was ever read there, else those of the pages it was read at. A copy on an
    aggregator vanishing says nothing of an original read on its own site; an article read
    only on an aggregator (its own URL an "original" link never read) is at home there."""
    own: dict[str, str] = {}
    read: dict[str, set[str]] = {}
    for chunk in chunks(ids):
        rows = session.execute(
            select(ARTICLES.c.id, ARTICLES.c.url).where(ARTICLES.c.id.in_(chunk))
        )
        own.update({aid: url for aid, url in rows})
        rows = session.execute(
            select(URLS.c.article_id, URLS.c.url).where(URLS.c.article_id.in_(chunk))
        )
        for aid, url in rows:
            read.setdefault(aid, set()).add(url)
    homes: dict[str, set[str]] = {}
    for aid, url in own.items():
        pages = read.get(aid, set())
        homes[aid] = {_host(url)} if url in pages or not pages else {_host(u) for u in pages}
    return homes


def _snapshots(session: Session, listings: Sequence[str]) -> dict[str, list[str]]:
    """What each of ``listings`` showed at its last full read (article ids, page order)."""
    previous: dict[str, list[str]] = {}
    for chunk in chunks(listings):
        rows = session.execute(
            select(SNAPSHOTS.c.listing, SNAPSHOTS.c.article_ids).where(
                SNAPSHOTS.c.listing.in_(chunk)
            )
        )
        previous.update({key: list(ids or []) for key, ids in rows})
    return previous


def _vanished(
    pages: Mapping[str, Sequence[str] | None],
    previous: Mapping[str, list[str]],
    current: Mapping[str, list[str]],
    later: set[str],
) -> dict[str, str]:
    """Article id -> the listing it vanished from: listed there before, on no page now, while
    an article listed after it (and, on a later page, one before it) still is."""
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
    return candidates


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")
