"""What a crawl knows of the archive before it fetches anything.

The archive-state extension (:mod:`crawler.extensions.archive`) loads it when the spider
opens and announces it with :data:`crawler.signals.archive_opened`; the spider skips
article pages already stored (but for those due for a revisit, and those of articles marked
gone, which it fetches again), and the conditional-request middleware revalidates listing
pages and revisited article pages with the validators of their last fetch. Validators learnt
during the crawl are kept here until the extension writes them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from crawler.extract.text import title_key

#: How a listing marks a title cut short.
_ELLIPSES = ("...", "\u2026")


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP cache validators of one URL's last successful fetch."""

    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass
class ArchiveState:
    known_urls: set[str] = field(default_factory=set)
    validators: dict[str, Validators] = field(default_factory=dict)
    learnt: dict[str, Validators] = field(default_factory=dict)
    #: Pages that failed in recent runs and are still not stored, with the date their
    #: listing gave them: tried again first.
    retry_urls: dict[str, date | None] = field(default_factory=dict)
    #: The category of the listing that linked such a page, when one did.
    retry_categories: dict[str, str] = field(default_factory=dict)
    #: Known URLs -> the stored article's title: a listing showing another title there is
    #: a sign of a retitle.
    titles: dict[str, str] = field(default_factory=dict)
    #: For backfills: listing URL -> pages an earlier backfill finished.
    pages_done: dict[str, int] = field(default_factory=dict)
    #: Stored articles' own pages to fetch again (revisits of young articles, or a
    #: recheck), with their publication dates: edits and deletions show there.
    revisit_urls: dict[str, date | None] = field(default_factory=dict)
    #: Stored articles' pages a sweep checks in this run (see :mod:`crawler.sweep`), with
    #: their publication dates.
    sweep_urls: dict[str, date | None] = field(default_factory=dict)
    #: URLs of articles marked gone: fetched again when a listing shows them.
    gone_urls: set[str] = field(default_factory=set)
    #: The last crawl of the source did not finish (killed, stopped, or it could not store
    #: everything): it may have stored a listing's first page and not the next. Listings are
    #: then fetched without validators and paged to their limit, known articles or not.
    recovering: bool = False

    @classmethod
    def of(
        cls,
        known_urls: Iterable[str],
        validators: Mapping[str, Validators] | None = None,
        retry_urls: Mapping[str, date | None] | None = None,
    ) -> ArchiveState:
        return cls(
            known_urls=set(known_urls),
            validators=dict(validators or {}),
            retry_urls=dict(retry_urls or {}),
        )

    def knows(self, url: str) -> bool:
        return url in self.known_urls

    def set_titles(self, titles: Mapping[str, str]) -> None:
        """Remember the stored titles of known URLs."""
        self.titles = dict(titles)

    def retitled(self, url: str, listed_title: str) -> bool:
        """Whether a listing shows a known URL under another title than the stored one,
        compared by :func:`title_key` (a title cut short with an ellipsis counts when the
        stored one does not start so)."""
        title = self.titles.get(url)
        listed = title_key(listed_title)
        if title is None or not listed:
            return False
        stored = title_key(title)
        if listed_title.rstrip().endswith(_ELLIPSES):
            return not stored.startswith(listed)
        return stored != listed

    def is_gone(self, url: str) -> bool:
        return url in self.gone_urls

    def validators_for(self, url: str) -> Validators | None:
        return self.learnt.get(url) or self.validators.get(url)

    def learn(self, url: str, validators: Validators) -> None:
        if validators and self.validators_for(url) != validators:
            self.learnt[url] = validators

    def take_learnt(self) -> dict[str, Validators]:
        """The validators learnt since the last call, to be written back."""
        learnt, self.learnt = self.learnt, {}
        self.validators.update(learnt)
        return learnt
