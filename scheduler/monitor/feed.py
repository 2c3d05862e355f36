"""Atom 1.0 feeds of new and changed articles: overall, and per watch rule.

The overall feed lists the latest ``new`` and ``edited`` article events. A rule's feed lists
the stored articles the rule matches (as ``watch test`` finds them, so a new rule's feed is
not empty), and the edits and disappearances the rule matched since it exists. Each entry
carries the version's title and text as ``type="text"`` content: feed readers show it as
text, so markup in an article (a hostile page's ``<script>``) is displayed, never
interpreted. The XML is written by :mod:`xml.etree.ElementTree`, which escapes ``<``, ``>``
and ``&``; characters XML cannot carry (control characters) are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from itertools import islice

from scheduler.monitor.watch import WatchRule, stored_matches
from storage.fulltext import SearchHit
from storage.records import ArticleView, MatchView, utc_iso
from storage.repository import Repository

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
DEFAULT_LIMIT = 50
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot carry."""
    return _XML_ILLEGAL.sub("", value)


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    link: str
    updated: datetime
    published: date | None
    summary: str
    content: str | None
    category: str | None = None
    #: The archived article the entry is about: with a ``base_url``, :func:`render` links
    #: its page on that server and gives ``link`` as the related original.
    article_id: str | None = None


def render(
    entries: Sequence[Entry],
    *,
    feed_id: str,
    title: str,
    updated: datetime,
    self_url: str | None = None,
    subtitle: str | None = None,
    base_url: str | None = None,
    stylesheet: str | None = None,
    page_url: str | None = None,
) -> bytes:
    """The Atom document of ``entries`` (newest first), UTF-8 encoded.

    ``base_url``: the reading room serving the feed; an entry about an archived article links
    its page there, and the original as ``related``. ``stylesheet``: the URL of an XSL
    stylesheet for browsers, announced by an ``xml-stylesheet`` processing instruction (feed
    readers ignore it). ``page_url``: the web page the feed follows (``rel=alternate``).
    """
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title, type="text")
    if subtitle:
        _sub(feed, "subtitle", subtitle, type="text")
    newest = max((e.updated for e in entries), default=updated)
    _sub(feed, "updated", utc_iso(newest))
    author = _sub(feed, "author")
    _sub(author, "name", "kcna-monitor")
    _sub(feed, "generator", "kcna-monitor")
    if self_url:
        _sub(feed, "link", rel="self", href=xml_text(self_url), type="application/atom+xml")
    if page_url:
        _sub(feed, "link", rel="alternate", href=xml_text(page_url), type="text/html")
    for item in entries:
        _entry(_sub(feed, "entry"), item, base_url)
    ET.indent(feed)
    head = "<?xml version='1.0' encoding='utf-8'?>\n"
    if stylesheet:
        head += f'<?xml-stylesheet type="text/xsl" href="{escape(stylesheet, quote=True)}"?>\n'
    return (head + ET.tostring(feed, encoding="unicode") + "\n").encode("utf-8")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        element.text = xml_text(text)
    return element


def _entry(entry: ET.Element, item: Entry, base_url: str | None) -> None:
    _sub(entry, "id", item.id)
    _sub(entry, "title", item.title or "(untitled)", type="text")
    if base_url and item.article_id:
        local = f"{base_url.rstrip('/')}/articles/{item.article_id}"
        _sub(entry, "link", rel="alternate", href=xml_text(local), type="text/html")
        _sub(entry, "link", rel="related", href=xml_text(item.link), type="text/html")
    else:
        _sub(entry, "link", rel="alternate", href=xml_text(item.link), type="text/html")
    _sub(entry, "updated", utc_iso(item.updated))
    if item.published is not None:
        _sub(entry, "published", f"{item.published.isoformat()}T00:00:00+09:00")
    if item.category:
        _sub(entry, "category", term=xml_text(item.category))
    _sub(entry, "summary", item.summary, type="text")
    if item.content is not None:
        _sub(entry, "content", item.content, type="text")


def _summary(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def overall_entries(repo: Repository, limit: int = DEFAULT_LIMIT) -> list[Entry]:
    """The latest new and edited articles (one entry per version)."""
    entries = []
    articles: dict[str, ArticleView | None] = {}
    for event in repo.articles.recent_events(("new", "edited"), limit=limit):
        if event.article_id not in articles:
            articles[event.article_id] = repo.articles.get(event.article_id)
        article = articles[event.article_id]
        if article is None:
            continue
        number, title, text = article.version(event.version)
        label = "" if event.kind == "new" else f"[edited, version {number}] "
        entries.append(
            Entry(
                id=f"urn:kcna-monitor:article:{article.id}:v{number}",
                title=label + title,
                link=article.url,
                updated=event.at,
                published=article.published,
                summary=_summary(text),
                content=text,
                category=article.source,
                article_id=article.id,
            )
        )
    return entries


def rule_entries(repo: Repository, rule: WatchRule, limit: int = DEFAULT_LIMIT) -> list[Entry]:
    """What the watch rule matches: the stored articles it matches now (the newest
    ``limit``, found as ``watch test`` finds them) and the edits and disappearances it
    matched since it exists; one entry per article version or disappearance, newest first."""
    entries: dict[str, Entry] = {}
    for match in repo.outbox.matches(rule.name, limit=limit, events=("edited", "gone")):
        article = repo.articles.get(match.article_id)
        if article is not None:
            entry = _recorded_entry(rule.name, match, article)
            entries.setdefault(entry.id, entry)
    found = stored_matches(repo.articles.iterate(newest_first=True), rule)
    for article, snippet in islice(found, limit):
        entry = _stored_entry(repo, rule.name, article, snippet)
        entries.setdefault(entry.id, entry)
    return sorted(entries.values(), key=lambda e: (e.updated, e.id), reverse=True)[:limit]


def _label(number: int) -> str:
    return "" if number == 1 else f"[edited, version {number}] "


def _recorded_entry(rule: str, match: MatchView, article: ArticleView) -> Entry:
    """A recorded match of the rule: an edited version, or the article gone."""
    number, title, text = article.version(match.version)
    gone = match.event == "gone"
    return Entry(
        id=f"urn:kcna-monitor:watch:{rule}:{article.id}:{match.dedup}",
        title=("[gone] " if gone else _label(number)) + title,
        link=article.url,
        updated=match.matched_at,
        published=article.published,
        summary=f"No longer on the site. {match.snippet}" if gone else match.snippet,
        content=text,
        category=article.source,
        article_id=article.id,
    )


def _stored_entry(repo: Repository, rule: str, article: ArticleView, snippet: str) -> Entry:
    """A stored article the rule matches: its current version, as of when it was stored."""
    seen = article.first_seen
    if article.versions > 1:  # when the current version was first seen
        full = repo.articles.get(article.id)
        if full is not None and full.history:
            seen = full.history[-1].first_seen
    return Entry(
        id=f"urn:kcna-monitor:watch:{rule}:{article.id}:v{article.versions}",
        title=_label(article.versions) + article.title,
        link=article.url,
        updated=seen,
        published=article.published,
        summary=snippet,
        content=article.text,
        category=article.source,
        article_id=article.id,
    )


def build_feed(
    repo: Repository,
    *,
    now: datetime,
    rule: WatchRule | None = None,
    limit: int = DEFAULT_LIMIT,
    self_url: str | None = None,
    base_url: str | None = None,
    stylesheet: str | None = None,
) -> bytes:
    """The overall feed, or the feed of watch rule ``rule`` (``base_url``, ``stylesheet``:
    as :func:`render` takes them, when a web server serves it)."""
    shown = {"updated": now, "self_url": self_url, "base_url": base_url, "stylesheet": stylesheet}
    if rule is None:
        return render(
            overall_entries(repo, limit),
            feed_id="urn:kcna-monitor:feed",
            title="kcna-monitor: new and changed articles",
            subtitle="New and edited articles of KCNA and KCNA Watch",
            **shown,
        )
    return render(
        rule_entries(repo, rule, limit),
        feed_id=f"urn:kcna-monitor:watch:{rule.name}",
        title=f"kcna-monitor: watch rule {rule.name}",
        subtitle=f'Articles matching the watch rule "{rule.name}"',
        **shown,
    )


def search_entries(hits: Sequence[SearchHit]) -> list[Entry]:
    """An entry per search hit, in the hits' order: its title, its snippet as the summary
    (no content: the article's page has the text), updated when it was first seen; an
    article gone from its site says so."""
    return [
        Entry(
            id=f"urn:kcna-monitor:article:{hit.id}",
            title=("[gone] " if hit.gone_at else "") + _label(hit.version_count) + hit.title,
            link=hit.url,
            updated=hit.first_seen,
            published=hit.published,
            summary=("No longer on the site. " if hit.gone_at else "") + hit.plain_snippet(),
            content=None,
            category=hit.source,
            article_id=hit.id,
        )
        for hit in hits
    ]
