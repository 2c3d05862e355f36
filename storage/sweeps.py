"""Archive sweeps, the storage side: which of a source's articles to check next, and how far
the checks of the current period got.

A source's articles are those whose page to check (see
:func:`storage.crawl_state._pages_to_check`) lies under its URL prefixes: their own URL when a
page was read there, else one they were read at. "Checked" is the articles' ``checked_at``
(set by every revisit, recheck and sweep); an article never re-checked is due at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select

from storage.models import ARTICLES, URLS


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """How far a source's sweep got: of its ``articles``, ``checked`` were re-checked since
    the period began; ``never`` never were; ``oldest`` is the earliest check of the others
    (None when none was ever checked)."""

    articles: int
    checked: int
    never: int
    oldest: datetime | None

    @property
    def share(self) -> float:
        """The share of the archive checked in the current period (1.0 when it is empty)."""
        return self.checked / self.articles if self.articles else 1.0


def _under(column: Any, prefixes: Sequence[str]) -> Any:
    return or_(*(column.startswith(p, autoescape=True) for p in prefixes))


def of_source(prefixes: Sequence[str]) -> Any:
    """The condition on ``articles`` rows: the article's page to check is under ``prefixes``
    (its own URL if read there, else a URL it was read at)."""
    own_read = select(URLS.c.url).where(URLS.c.url == ARTICLES.c.url).exists()
    read_here = (
        select(URLS.c.url)
        .where(URLS.c.article_id == ARTICLES.c.id)
        .where(_under(URLS.c.url, prefixes))
        .exists()
    )
    return or_(and_(own_read, _under(ARTICLES.c.url, prefixes)), and_(~own_read, read_here))


def due_query(prefixes: Sequence[str], checked_before: datetime, limit: int) -> Select[Any]:
    """(id, url, published) of up to ``limit`` of the source's articles due for a check:
    never re-checked ones first (the newest first), then the least recently checked."""
    checked = ARTICLES.c.checked_at
    return (
        select(ARTICLES.c.id, ARTICLES.c.url, ARTICLES.c.published)
        .where(of_source(prefixes))
        .where(or_(checked.is_(None), checked < checked_before))
        .order_by(
            case((checked.is_(None), 0), else_=1),
            checked,
            case((ARTICLES.c.published.is_(None), 1), else_=0),
            ARTICLES.c.published.desc(),
            ARTICLES.c.first_seen.desc(),
            ARTICLES.c.id,
        )
        .limit(limit)
    )


def progress_query(prefixes: Sequence[str], since: datetime) -> Select[Any]:
    """(articles, checked since ``since``, never checked, oldest check) of the source."""
    checked = ARTICLES.c.checked_at
    return select(
        func.count(),
        func.coalesce(func.sum(case((checked >= since, 1), else_=0)), 0),
        func.coalesce(func.sum(case((checked.is_(None), 1), else_=0)), 0),
        func.min(checked),
    ).where(of_source(prefixes))
