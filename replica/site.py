"""One web site of all three layouts, rebuilt from real articles.

:func:`build_site` renders corpus records into one :class:`~replica.server.FixtureSite` that
mirrors both sources' paths: kcna.kp ``/q/`` articles (one article under several URLs, as on the
real site) and category listings, kcna.kp ``/detail/`` articles behind a list that pages by form
POST with a session cookie and a ``_csrf`` token, and KCNA Watch copies (linking their kcna.kp
originals), pages found only there, and the seed page. :class:`BuiltSite` says what a crawl of
it must store, and publishes, edits, deletes and brings back kcna.kp ``/q/`` articles while it
is served (:mod:`replica.qpart`); :class:`~replica.server.FixtureServer` serves it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from replica.corpus import SEED_CASE, expected_title, group_articles, load_records
from replica.qpart import (
    Group,
    Listed,
    QPart,
    SiteArticle,
    path_of,
    site_article,
    stamp_style,
    topics,
)
from replica.render import kcna, kcnawatch
from replica.server import FixtureSite, Page

KCNA = "http://www.kcna.kp"
KCNAWATCH = "https://kcnawatch.org"
CSRF = "fixture-csrf-token"
DETAIL_CATEGORY = "Latest News"
DETAIL_LIST_PATH = kcna.list_path(DETAIL_CATEGORY)


@dataclass
class BuiltSite:
    """The built site, and what a crawl of it must find."""

    site: FixtureSite
    articles: list[SiteArticle]  # the articles published so far
    start_paths: list[str]
    detail_list_path: str
    q_articles: list[dict[str, Any]]
    detail_records: list[dict[str, Any]]
    #: Articles held back, published one at a time by :meth:`publish_next`.
    held_back: list[Group] = field(default_factory=list)
    q_part: QPart | None = None

    def publish_next(self) -> SiteArticle | None:
        """Publish the next held-back kcna.kp article: its pages, and an entry at the top of
        its category listings (as the real site does). None when none is left."""
        if not self.held_back or self.q_part is None:
            return None
        article = self.q_part.publish(self.held_back.pop(0))
        self.articles.append(article)
        return article

    def start_paths_of(self, source: str) -> list[str]:
        """The start pages of one source (``kcna`` or ``kcnawatch``)."""
        watch = [p for p in self.start_paths if p.startswith("/newstream/")]
        return watch if source == "kcnawatch" else [p for p in self.start_paths if p not in watch]

    # -- changes to published articles -------------------------------------------------------

    def changeable(self) -> list[SiteArticle]:
        """The published kcna.kp /q/ articles that :meth:`edit`, :meth:`delete` and
        :meth:`restore` may change without a trace elsewhere: none copied on KCNA Watch, and
        none whose deletion would leave a listing empty."""
        if self.q_part is None:
            return []
        return [
            placed.article
            for placed in self.q_part.placed
            if all(url.startswith(KCNA) for url in placed.article.urls)
            and self.q_part.deletable(placed.article)
        ]

    def edit(
        self, article: SiteArticle, *, title: str | None = None, text: str | None = None
    ) -> None:
        """Change a kcna.kp /q/ article's title (raw, as in the corpus) and/or text on every
        page that carries it and in its listing entries; ``article`` reads the change."""
        self._q().edit(article, title=title, text=text)

    def delete(self, article: SiteArticle) -> None:
        """Take a kcna.kp /q/ article down: its pages answer 404, it leaves its listings."""
        self._q().delete(article)

    def restore(self, article: SiteArticle) -> None:
        """Bring a deleted kcna.kp /q/ article back where it was."""
        self._q().restore(article)

    def _q(self) -> QPart:
        if self.q_part is None:
            raise ValueError("this site has no kcna.kp /q/ part")
        return self.q_part


def build_site(
    records: list[dict[str, Any]] | None = None,
    *,
    q_count: int = 20,
    detail_count: int = 12,
    detail_per_page: int = 5,
    copies_of_q: int = 4,
    copies_of_detail: int = 2,
    latest: Sequence[dict[str, Any]] = (),
    hold_back: int = 0,
    empty_past_end: bool = False,
) -> BuiltSite:
    """Render the sample corpus into one fixture site of all three layouts.

    ``latest`` are records published on KCNA Watch just now: at the top of its listing.
    ``hold_back`` kcna.kp /q/ articles (of the ``q_count``) are left unpublished, for
    :meth:`BuiltSite.publish_next` to publish later; each category keeps a published article
    (a real category listing is never empty). A form-paged list asked for a page past its last
    answers that last page, or with ``empty_past_end`` an empty list whose paging script says
    it is page 1.
    """
    shares = _share(
        records if records is not None else load_records(), q_count, detail_count, hold_back
    )
    site = FixtureSite()
    q_part = QPart(site)
    articles, start_paths = q_part.build(shares.q, shares.held_back)
    detail_records = [group[0] for group in shares.detail]
    detail_articles, detail_list_path = _put_detail_part(
        site, detail_records, detail_per_page, empty_past_end
    )
    articles += detail_articles
    start_paths.append(detail_list_path)
    copies = [(g[0], g[0]["url"]) for g in shares.q[:copies_of_q]] + [
        (rec, KCNA + kcna.detail_path(rec)) for rec in detail_records[:copies_of_detail]
    ]
    watch_articles, watch_start = _put_watch_part(site, articles, copies, latest, shares.watch_only)
    articles += watch_articles
    start_paths.append(watch_start)
    _put_robots(site)
    return BuiltSite(
        site=site,
        articles=articles,
        start_paths=start_paths,
        detail_list_path=detail_list_path,
        q_articles=[g[0] for g in shares.q],
        detail_records=detail_records,
        held_back=list(shares.held_back),
        q_part=q_part,
    )


# --- the steps -----------------------------------------------------------------------------------


@dataclass
class _Shares:
    """The corpus's articles shared among the parts of the site."""

    q: list[Group]
    held_back: list[Group]
    detail: list[Group]
    watch_only: list[Group]


def _share(
    records: list[dict[str, Any]], q_count: int, detail_count: int, hold_back: int
) -> _Shares:
    # Articles under several URLs first: they all go to the /q/ part, as on the real site.
    groups = sorted(group_articles(records), key=lambda g: -len(g))
    q_all = groups[:q_count]
    if not 0 <= hold_back < len(q_all):
        raise ValueError(f"hold_back must be between 0 and {len(q_all) - 1}, got {hold_back}")
    held = {id(group) for group in _held_back(q_all, hold_back)}
    return _Shares(
        q=[g for g in q_all if id(g) not in held],
        held_back=[g for g in q_all if id(g) in held],
        detail=groups[q_count : q_count + detail_count],
        watch_only=groups[q_count + detail_count :],
    )


def _held_back(groups: list[Group], count: int) -> list[Group]:
    """``count`` of the /q/ articles to hold back, the last ones first, skipping one that
    would leave a category with no published article (its listing would be empty)."""
    published = Counter(topic for group in groups for topic in topics(group))
    held: list[Group] = []
    for group in reversed(groups):
        if len(held) == count:
            break
        if all(published[topic] > 1 for topic in topics(group)):
            held.append(group)
            published.subtract(topics(group))
    if len(held) < count:
        raise ValueError(f"cannot hold back {count} articles without emptying a category")
    return held


@dataclass
class _DetailList:
    """The kcna.kp /detail/ list, paged by form POST with the session cookie and token."""

    entries: list[Listed]
    per_page: int
    empty_past_end: bool
    path: str = DETAIL_LIST_PATH

    @property
    def page_count(self) -> int:
        return max(1, -(-len(self.entries) // self.per_page))

    def page(self, number: int) -> Page:
        chunk = self.entries[(number - 1) * self.per_page : number * self.per_page]
        return self._render(chunk, number, featured=1 if number == 1 else 0)

    def answer_post(self, form: Mapping[str, str], cookie: bool) -> Page:
        """A page asked for by POST: a page of the list, or an empty page without the session."""
        if not cookie or form.get("_csrf") != CSRF:
            return Page(kcna.render_empty_main_page(f"KCNA | {DETAIL_CATEGORY}").encode())
        try:
            number = int(form.get("page_num", "1"))
        except ValueError:
            number = 1
        if self.empty_past_end and number > self.page_count:
            return self._render([], 1, featured=0)
        return self.page(min(max(number, 1), self.page_count))

    def _render(self, chunk: list[Listed], number: int, *, featured: int) -> Page:
        html = kcna.render_detail_listing(
            chunk,
            list_url_path=self.path,
            page=number,
            page_count=self.page_count,
            csrf=CSRF,
            per_page=self.per_page,
            total=len(self.entries),
            category=DETAIL_CATEGORY,
            featured=featured,
        )
        return Page(html.encode("utf-8"))


def _put_detail_part(
    site: FixtureSite, records: list[dict[str, Any]], per_page: int, empty_past_end: bool
) -> tuple[list[SiteArticle], str]:
    """kcna.kp /detail/: the articles, behind their list. The articles, and the list's path."""
    entries = [(kcna.detail_path(rec), rec["title"], rec["published"]) for rec in records]
    listing = _DetailList(entries, per_page, empty_past_end)
    site.pages[listing.path] = listing.page(1)
    site.posts[listing.path] = listing.answer_post
    articles = []
    for rec in records:
        site.put(kcna.detail_path(rec), kcna.render_detail_article(rec))
        articles.append(site_article(rec, {KCNA + kcna.detail_path(rec)}, {DETAIL_CATEGORY}))
    return articles, listing.path


def _put_watch_part(
    site: FixtureSite,
    articles: list[SiteArticle],
    copies: list[tuple[dict[str, Any], str]],
    latest: Sequence[dict[str, Any]],
    watch_only: list[Group],
) -> tuple[list[SiteArticle], str]:
    """KCNA Watch: ``copies`` of kcna.kp ``articles`` (record, original URL), pages found only
    there (``latest`` on top of the listing), and the seed page. Its articles, and the listing's
    path."""
    by_title = {a.title: a for a in articles}
    entries: list[Listed] = []
    for rec, original in copies:
        path = _put_watch_page(site, rec, original, stamp=None)
        by_title[expected_title(rec["title"])].urls.add(KCNAWATCH + path)
        entries.append((path, rec["title"], rec["published"]))
    own: list[SiteArticle] = []
    newest_first: list[Listed] = []
    for group in [[rec] for rec in latest] + watch_only:
        rec = group[0]
        path = _put_watch_page(site, rec, None, stamp=stamp_style(rec["published"]))
        own.append(site_article(rec, {KCNAWATCH + path}))
        (newest_first if rec in latest else entries).append((path, rec["title"], rec["published"]))
    entries[:0] = newest_first
    seed, seed_entry = _put_seed(site)
    own.append(seed)
    entries.append(seed_entry)
    return own, _put_watch_listing(site, entries)


def _put_watch_page(
    site: FixtureSite,
    rec: Mapping[str, Any],
    original: str | None,
    *,
    stamp: Literal["juche", "gregorian"] | None,
) -> str:
    """A KCNA Watch article page for ``rec`` (copied from ``original`` if given); its path."""
    path = kcnawatch.kcnawatch_path(rec)
    html = kcnawatch.render_kcnawatch_article(
        rec, page_url=KCNAWATCH + path, original_url=original, stamp=stamp
    )
    site.put(path, html)
    return path


def _put_seed(site: FixtureSite) -> tuple[SiteArticle, Listed]:
    """The KCNA Watch page the project started from: its article and its listing entry."""
    seed_url = (SEED_CASE / "url.txt").read_text(encoding="utf-8").strip()
    seed = json.loads((SEED_CASE / "expected.json").read_text(encoding="utf-8"))["record"]
    site.put(path_of(seed_url), (SEED_CASE / "page.html").read_text(encoding="utf-8"))
    article = SiteArticle(
        seed["title"], seed["published"], seed["text"], {seed_url, seed["canonical_url"]}
    )
    return article, (path_of(seed_url), seed["title"], seed["published"])


def _put_watch_listing(site: FixtureSite, entries: list[Listed]) -> str:
    """The KCNA Watch listing on two pages; the first one's path."""
    half = (len(entries) + 1) // 2
    site.put(
        "/newstream/",
        kcnawatch.render_kcnawatch_listing(entries[:half], next_page_path="/newstream/page/2/"),
    )
    site.put("/newstream/page/2/", kcnawatch.render_kcnawatch_listing(entries[half:]))
    return "/newstream/"


def _put_robots(site: FixtureSite) -> None:
    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n")
    site.pages["/robots.txt"].content_type = "text/plain"
