"""The kcna.kp ``/q/`` part of a rebuilt site, and what can happen to its articles later.

:class:`QPart` puts every URL of every article (one article under several URLs, as on the
real site) and one listing per category, newest first. Afterwards it publishes a held-back
article on top of its listings, edits an article (its title on its pages and its listing
entries, or its text), deletes one (its pages answer 404 and its entries leave the listings)
and brings a deleted one back, as the real site does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from replica.corpus import expected_text, expected_title
from replica.render import kcna
from replica.server import FixtureSite

Group = list[dict[str, Any]]  # one article: its corpus records, one per URL
Listed = tuple[str, str, str]  # a listing entry: (path, title, published)


@dataclass
class SiteArticle:
    """One distinct article of the site and what a crawl must store for it."""

    title: str
    published: str
    text: str  # as it must read once extracted
    urls: set[str]  # every public URL that carries it
    categories: set[str] = field(default_factory=set)


def path_of(url: str) -> str:
    """The path (and query) of a URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def stamp_style(published: str) -> Literal["juche", "gregorian"]:
    """The page stamp of a day: kcna.kp switched from Juche to Gregorian years in late
    October 2024."""
    return "gregorian" if published >= "2024-10-25" else "juche"


def site_article(
    rec: Mapping[str, Any], urls: set[str], categories: set[str] | None = None
) -> SiteArticle:
    """What a crawl must store of the corpus record ``rec`` found at ``urls``."""
    return SiteArticle(
        expected_title(rec["title"]),
        rec["published"],
        expected_text(rec["text"]),
        urls,
        categories if categories is not None else set(),
    )


def topics(group: Group) -> set[str]:
    """The categories an article is listed in."""
    return {topic for rec in group for topic in rec["topics"]}


@dataclass
class _Placed:
    article: SiteArticle
    group: Group
    #: While deleted: where its entries stood, (category, index, entry), to put them back.
    removed: list[tuple[str, int, Listed]] | None = None


class QPart:
    """kcna.kp /q/: every URL of every article, and one listing per category."""

    def __init__(self, site: FixtureSite) -> None:
        self.site = site
        self.listings: dict[str, list[Listed]] = defaultdict(list)
        self.placed: list[_Placed] = []

    def build(
        self, groups: list[Group], held_back: list[Group]
    ) -> tuple[list[SiteArticle], list[str]]:
        """Put the articles and the listings: the articles, and the listings' paths."""
        articles = [self.put_article(group) for group in groups]
        # The held-back articles' categories get their listings now, so the start pages stay
        # the same when they are published.
        for group in held_back:
            for topic in topics(group):
                self.listings.setdefault(topic, [])
        return articles, [self.put_listing(category) for category in sorted(self.listings)]

    def put_article(self, group: Group, *, newest: bool = False) -> SiteArticle:
        """Put every URL of an article, listed last (or first if ``newest``) in its categories."""
        article = site_article(group[0], set())
        self._put_pages(group)
        for rec in group:
            article.urls.add(rec["url"])
            for topic in rec["topics"]:
                entry = (path_of(rec["url"]), rec["title"], rec["published"])
                if newest:
                    self.listings[topic].insert(0, entry)
                else:
                    self.listings[topic].append(entry)
        self.placed.append(_Placed(article, group))
        return article

    def put_listing(self, category: str) -> str:
        """Put (again) the listing of ``category``; its path."""
        path = kcna.q_category_path(category)
        self.site.put(path, kcna.render_q_listing(self.listings[category], category=category))
        return path

    def publish(self, group: Group) -> SiteArticle:
        """Publish a held-back article: its pages, on top of its categories' listings."""
        article = self.put_article(group, newest=True)
        self._put_listings(topics(group))
        return article

    # -- later changes ----------------------------------------------------------------------

    def deletable(self, article: SiteArticle) -> bool:
        """Whether deleting the article leaves each of its listings another entry."""
        paths = {path_of(url) for url in article.urls}
        return all(
            any(entry[0] not in paths for entry in self.listings[topic])
            for topic in topics(self._find(article).group)
        )

    def edit(
        self, article: SiteArticle, *, title: str | None = None, text: str | None = None
    ) -> None:
        """Change the title and/or text of an article on every page that carries it (a
        title in its listing entries too); a deleted article shows it when it is back."""
        placed = self._find(article)
        changes = {k: v for k, v in (("title", title), ("text", text)) if v is not None}
        placed.group = [{**rec, **changes} for rec in placed.group]
        article.title = expected_title(placed.group[0]["title"])
        article.text = expected_text(placed.group[0]["text"])
        if title is not None:
            paths = {path_of(rec["url"]) for rec in placed.group}

            def retitled(entry: Listed) -> Listed:
                return (entry[0], title, entry[2]) if entry[0] in paths else entry

            for category in topics(placed.group):
                self.listings[category] = [retitled(e) for e in self.listings[category]]
            if placed.removed is not None:
                placed.removed = [(c, i, retitled(e)) for c, i, e in placed.removed]
        if placed.removed is None:
            self._put_pages(placed.group)
            self._put_listings(topics(placed.group))

    def delete(self, article: SiteArticle) -> None:
        """Take an article down: its pages answer 404, its entries leave the listings."""
        placed = self._find(article)
        if placed.removed is not None:
            return
        paths = {path_of(rec["url"]) for rec in placed.group}
        placed.removed = []
        for category in sorted(topics(placed.group)):
            entries = self.listings[category]
            placed.removed += [(category, i, e) for i, e in enumerate(entries) if e[0] in paths]
            self.listings[category] = [e for e in entries if e[0] not in paths]
        for path in paths:
            self.site.remove(path)
        self._put_listings(topics(placed.group))

    def restore(self, article: SiteArticle) -> None:
        """Bring a deleted article back: its pages, and its entries where they stood."""
        placed = self._find(article)
        if placed.removed is None:
            return
        self._put_pages(placed.group)
        for category, index, entry in placed.removed:
            self.listings[category].insert(index, entry)
        placed.removed = None
        self._put_listings(topics(placed.group))

    def _find(self, article: SiteArticle) -> _Placed:
        for placed in self.placed:
            if placed.article is article:
                return placed
        raise KeyError(f"not a kcna.kp /q/ article of this site: {article.title!r}")

    def _put_pages(self, group: Group) -> None:
        for rec in group:
            page = kcna.render_q_article(rec, stamp=stamp_style(rec["published"]))
            self.site.put(path_of(rec["url"]), page)

    def _put_listings(self, categories: set[str]) -> None:
        for category in sorted(categories):
            self.put_listing(category)
