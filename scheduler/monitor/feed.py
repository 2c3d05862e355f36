"""Atom 1.0 feeds of new and changed articles: overall, and per watch rule.

The overall feed lists the latest ``new`` and ``edited`` article events; a rule's feed the
latest versions the rule matched. Each entry carries the version's title and text as
``type="text"`` content: feed readers show it as text, so markup in an article (a hostile
page's ``<script>``) is displayed, never interpreted. The XML is written by
:mod:`xml.etree.ElementTree`, which escapes ``<``, ``>`` and ``&``; characters XML cannot
carry (control characters) are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from storage.records import ArticleView, utc_iso
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
    content: str
    category: str | None = None


def render(
    entries: Sequence[Entry],
    *,
    feed_id: str,
    title: str,
    updated: datetime,
    self_url: str | None = None,
    subtitle: str | None = None,
) -> bytes:
    """The Atom document of ``entries`` (newest first), UTF-8 encoded."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = xml_text(text)
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", feed_id)
    sub(feed, "title", title, type="text")
    if subtitle:
        sub(feed, "subtitle", subtitle, type="text")
    newest = max((e.updated for e in entries), default=updated)
    sub(feed, "updated", utc_iso(newest))
    author = sub(feed, "author")
    sub(author, "name", "kcna-monitor")
    sub(feed, "generator", "kcna-monitor")
    if self_url:
        sub(feed, "link", rel="self", href=xml_text(self_url), type="application/atom+xml")
    for item in entries:
        entry = sub(feed, "entry")
        sub(entry, "id", item.id)
        sub(entry, "title", item.title or "(untitled)", type="text")
        sub(entry, "link", rel="alternate", href=xml_text(item.link), type="text/html")
        sub(entry, "updated", utc_iso(item.updated))
        if item.published is not None:
            sub(entry, "published", f"{item.published.isoformat()}T00:00:00+09:00")
        if item.category:
            sub(entry, "category", term=xml_text(item.category))
        sub(entry, "summary", item.summary, type="text")
        sub(entry, "content", item.content, type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


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
            )
        )
    return entries


def rule_entries(repo: Repository, rule: str, limit: int = DEFAULT_LIMIT) -> list[Entry]:
    """The latest versions the watch rule matched."""
    entries = []
    for match in repo.outbox.matches(rule, limit=limit * 2):
        if match.event == "gone":
            continue
        article = repo.articles.get(match.article_id)
        if article is None:
            continue
        number, title, text = article.version(match.version)
        label = "" if match.event == "new" else f"[edited, version {number}] "
        entries.append(
            Entry(
                id=f"urn:kcna-monitor:watch:{rule}:{article.id}:v{number}",
                title=label + title,
                link=article.url,
                updated=match.matched_at,
                published=article.published,
                summary=match.snippet,
                content=text,
                category=article.source,
            )
        )
        if len(entries) == limit:
            break
    return entries


def build_feed(
    repo: Repository,
    *,
    now: datetime,
    rule: str | None = None,
    limit: int = DEFAULT_LIMIT,
    self_url: str | None = None,
) -> bytes:
    """The overall feed, or the feed of watch rule ``rule``."""
    if rule is None:
        return render(
            overall_entries(repo, limit),
            feed_id="urn:kcna-monitor:feed",
            title="kcna-monitor: new and changed articles",
            subtitle="New and edited articles of KCNA and KCNA Watch",
            updated=now,
            self_url=self_url,
        )
    return render(
        rule_entries(repo, rule, limit),
        feed_id=f"urn:kcna-monitor:watch:{rule}",
        title=f"kcna-monitor: watch rule {rule}",
        subtitle=f'Articles matching the watch rule "{rule}"',
        updated=now,
        self_url=self_url,
    )
