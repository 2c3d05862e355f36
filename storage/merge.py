"""How sightings of an article combine, in memory and without a database.

Saving a batch (:mod:`storage.batch`) loads the current state of the articles it touches,
applies every input to it here in input order, then writes the result back. Keeping the rules
here makes them easy to read and to test:

- content equal (after normalisation) to the current version, or to any earlier one, is
  UNCHANGED: an alias URL still serving an old version must not flip the article back and
  forth between two versions;
- other content is CHANGED: a new version is appended and becomes the current content;
- categories are unioned, in first-seen order;
- a date from a better origin (page stamp > listing > meta line > dateline) replaces a worse
  one, and any date replaces none;
- the article's URL becomes the publisher's URL as soon as one is known;
- an article marked gone that is read again from a page fetched after the mark is back: the
  mark is cleared (the batch records a ``back`` event).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from storage.keys import content_hash
from storage.records import DATE_ORIGINS, ArticleInput, SaveOutcome

#: Hosts that copy articles from their publishers; their URLs are never preferred as an
#: article's URL over a publisher's.
DEFAULT_AGGREGATOR_HOSTS: frozenset[str] = frozenset({"kcnawatch.org"})


def origin_rank(origin: str | None) -> int:
    """Lower is better; unknown origins rank last."""
    return DATE_ORIGINS.index(origin) if origin in DATE_ORIGINS else len(DATE_ORIGINS)


def is_aggregator_url(url: str, aggregator_hosts: Iterable[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in aggregator_hosts)


@dataclass
class ArticleState:
    """The current state of one article while a batch is applied to it."""

    id: str
    is_new: bool
    url: str
    source: str
    title: str
    text: str
    published: date | None
    published_from: str | None
    dateline: str | None
    categories: list[str]
    content_hash: str
    version_count: int
    first_seen: datetime
    last_seen: datetime
    gone_at: datetime | None = None
    known_hashes: dict[str, int] = field(default_factory=dict)  # content hash -> version
    new_versions: list[dict[str, Any]] = field(default_factory=list)
    loaded: tuple[Any, ...] = ()  # the stored values, to tell whether an update is needed
    came_back: datetime | None = None  # when a sighting cleared the gone mark

    @classmethod
    def create(
        cls, article_id: str, item: ArticleInput, *, digest: str | None = None
    ) -> ArticleState:
        """A new article first seen as ``item``; ``digest`` is the item's content hash when
        the caller has it already."""
        digest = digest or content_hash(item.title, item.text)
        state = cls(
            id=article_id,
            is_new=True,
            url=item.canonical_url,
            source=item.source,
            title=item.title,
            text=item.text,
            published=item.published,
            published_from=item.published_from if item.published else None,
            dateline=item.dateline,
            categories=list(dict.fromkeys(item.categories)),
            content_hash=digest,
            version_count=1,
            first_seen=item.seen_at,
            last_seen=item.seen_at,
            known_hashes={digest: 1},
        )
        state.new_versions.append(state._version_row(1, item, digest))
        return state

    def row(self) -> dict[str, Any]:
        """The ``articles`` row for this state."""
        return {
            "id": self.id,
            "url": self.url,
            "source": self.source,
            "title": self.title,
            "text": self.text,
            "published": self.published,
            "published_from": self.published_from,
            "dateline": self.dateline,
            "categories": self.categories,
            "content_hash": self.content_hash,
            "version_count": self.version_count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "gone_at": self.gone_at,
        }

    def snapshot(self) -> tuple[Any, ...]:
        return tuple(self.row().values())

    @property
    def dirty(self) -> bool:
        return self.snapshot() != self.loaded

    def _version_row(self, number: int, item: ArticleInput, digest: str) -> dict[str, Any]:
        return {
            "article_id": self.id,
            "number": number,
            "title": item.title,
            "text": item.text,
            "content_hash": digest,
            "dateline": item.dateline,
            "first_seen": item.seen_at,
        }

    def apply(
        self, item: ArticleInput, aggregator_hosts: Iterable[str], *, digest: str | None = None
    ) -> tuple[SaveOutcome, int]:
        """Merge a further sighting; returns its outcome and the version it showed.

        ``digest`` is the item's content hash when the caller has it already.
        """
        digest = digest or content_hash(item.title, item.text)
        if digest in self.known_hashes:
            outcome, number = SaveOutcome.UNCHANGED, self.known_hashes[digest]
        else:
            self.version_count += 1
            number = self.version_count
            self.known_hashes[digest] = number
            self.new_versions.append(self._version_row(number, item, digest))
            self.title, self.text, self.content_hash = item.title, item.text, digest
            if item.dateline:
                self.dateline = item.dateline
            outcome = SaveOutcome.CHANGED
        if not self.dateline and item.dateline:
            self.dateline = item.dateline
        self.first_seen = min(self.first_seen, item.seen_at)
        self.last_seen = max(self.last_seen, item.seen_at)
        if self.gone_at is not None and item.seen_at > self.gone_at:
            self.gone_at, self.came_back = None, item.seen_at
        for category in item.categories:
            if category not in self.categories:
                self.categories = [*self.categories, category]
        if item.published is not None and (
            self.published is None
            or origin_rank(item.published_from) < origin_rank(self.published_from)
        ):
            self.published, self.published_from = item.published, item.published_from
        if is_aggregator_url(self.url, aggregator_hosts) and not is_aggregator_url(
            item.canonical_url, aggregator_hosts
        ):
            self.url = item.canonical_url
        return outcome, number
