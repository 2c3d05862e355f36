"""KCNA Watch's layout (WordPress): article pages copied from KCNA, and listings."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Literal

from replica.render.markup import (
    Entry,
    Record,
    as_date,
    document,
    escape,
    inline_html,
    paragraphs,
    parse_entry,
    stamp_text,
    token,
)

#: The site's own date shown at the top of every KCNA Watch page (not an article date).
KCNAWATCH_SITE_DATE = date(2026, 2, 12)


def slug(title: str) -> str:
    """A WordPress-like slug."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower().replace("'", "")).strip("-")


def kcnawatch_path(rec: Record) -> str:
    """A stable ``/newstream/<unix time>-<n>/<slug>/`` path for a corpus record."""
    day = as_date(rec["published"])
    assert day is not None
    ingested = int(datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC).timestamp())
    number = int(token("kw", rec["title"], rec["published"], length=8), 16) % 10**9
    return f"/newstream/{ingested}-{number}/{slug(rec['title'])}/"


def _header(site_date: date) -> str:
    return (
        '<header class="site-header"><div class="top-date">'
        f'<span class="date-long">{site_date:%B} {site_date.day}, {site_date.year}</span>'
        f'<span class="date-short">{site_date:%b} {site_date.day}, {site_date.year}</span></div>\n'
        '<a class="logo" href="/"><img src="/wp-content/themes/kcnawatch/images/logo.png" '
        'alt="KCNA Watch"></a>\n<nav class="main-nav"><ul>'
        '<li><a href="/newstream/">Newstream</a></li>'
        '<li><a href="/kctv-archive/">KCTV Archive</a></li>'
        "</ul></nav></header>"
    )


def _image(title: str) -> str:
    return f"/wp-content/uploads/{slug(title)[:40]}.jpg"


def _listing_item(href: str, title: str, published: date | None, teaser: str | None) -> str:
    shown = f"{published:%b} {published.day}, {published.year}" if published else ""
    return (
        '<article class="clearfix">\n'
        f'<div class="article-thumb"><a href="{html.escape(href)}"><img class="img-fluid" '
        f'src="{_image(title)}" alt="{html.escape(title)}"></a></div>\n'
        f'<div class="article-desc"><h4><a href="{html.escape(href)}">{escape(title)}</a></h4>\n'
        + (f'<p class="teaser">{escape(teaser)}</p>\n' if teaser else "")
        + (f'<span class="date">{shown}</span>' if shown else "")
        + "</div>\n</article>"
    )


def _more_item(href: str, title: str, published: date | None, teaser: str | None) -> str:
    shown = f"{published:%B} {published.day}, {published.year}" if published else ""
    return (
        '<article class="clearfix more-item">\n'
        f'<div class="article-thumb"><a href="{html.escape(href)}"><img class="img-fluid" '
        f'src="{_image(title)}" alt="{html.escape(title)}"></a></div>\n'
        f'<div class="article-desc"><h4><a href="{html.escape(href)}">'
        f"{escape(title)}</a></h4>\n"
        f'<p class="excerpt">{escape(teaser or "")}</p>\n'
        f'<span class="date">{shown}</span>\n'
        f'<p class="excerpt-hover">{escape(teaser or "")}</p></div>\n</article>'
    )


def _more_from(entries: Iterable[Entry], source: str) -> str:
    related = [_more_item(*parse_entry(e)) for e in entries]
    return (
        f'<section class="more-from">\n<h3>More From {escape(source)}</h3>\n'
        + "\n".join(related)
        + '\n<a class="more-articles" href="/newstream/">More Articles</a>\n</section>'
    )


def _head(title: str, page_url: str) -> str:
    return (
        f'<meta property="og:title" content="{html.escape(title)}">\n'
        f'<meta property="og:url" content="{html.escape(page_url)}">\n'
        f'<link rel="canonical" href="{html.escape(page_url)}">\n'
        '<link rel="stylesheet" href="/wp-content/themes/kcnawatch/style.css">\n'
    )


def render_kcnawatch_article(
    rec: Record,
    *,
    page_url: str,
    original_url: str | None,
    more_from: Iterable[Entry] = (),
    source: str = "KCNA.kp (En)",
    site_date: date = KCNAWATCH_SITE_DATE,
    stamp: Literal["juche", "gregorian"] | None = "juche",
    article_content: bool = True,
    nbsp: bool = False,
) -> str:
    """A KCNA Watch (WordPress) article page copied from a KCNA record.

    The body is the KCNA text verbatim, then the ``www.kcna.kp (...)`` stamp as its own
    paragraph. ``more_from`` entries (with teasers) fill the "More From <source>" block: each
    shows the title twice (image alt and heading), the teaser, the date and the teaser again.
    ``article_content=False`` leaves out the ``div.article-content`` wrapper.
    """
    day = as_date(rec["published"])
    assert day is not None
    lines = paragraphs(rec) + ([stamp_text(day, stamp)] if stamp else [])
    body_html = "\n".join(f"<p>{inline_html(p, wrap_names=False, nbsp=nbsp)}</p>" for p in lines)
    if article_content:
        body_html = f'<div class="article-content">\n{body_html}\n</div>'
    original = ""
    if original_url:
        original = (
            f' | <a href="{html.escape(original_url)}" target="_blank">'
            "Read original version at source</a>"
        )
    body = (
        f'{_header(site_date)}\n<div class="container">\n'
        '<div class="breadcrumb"><a href="/newstream/">KCNA</a> <a href="/newstream/">'
        f"{escape(source)}</a></div>\n"
        '<article class="single-article">\n'
        f'<h1 class="article-title">{escape(rec["title"])}</h1>\n'
        f'<div class="article-meta"><span>Date: {day:%d/%m/%Y}</span> | <span>Source: '
        f"{escape(source)}</span>{original}</div>\n{body_html}\n</article>\n"
        f"{_more_from(more_from, source)}\n</div>\n"
        '<footer class="site-footer">KCNA Watch</footer>'
    )
    return document(f"{rec['title']} | KCNA Watch", body, head_extra=_head(rec["title"], page_url))


def render_kcnawatch_listing(
    entries: Iterable[Entry],
    *,
    next_page_path: str | None = None,
    heading: str = "Newstream",
    site_date: date = KCNAWATCH_SITE_DATE,
) -> str:
    """A KCNA Watch listing: ``article.clearfix`` items dated ``Feb 12, 2026``.

    A javascript "Load More" link is always present; ``next_page_path`` adds a WordPress
    ``a.next.page-numbers`` link (``/newstream/page/2/``).
    """
    items = "\n".join(_listing_item(*parse_entry(e)) for e in entries)
    pager = (
        '<div class="pagination"><a class="next page-numbers" '
        f'href="{html.escape(next_page_path)}">Next</a></div>\n'
        if next_page_path
        else ""
    )
    body = (
        f'{_header(site_date)}\n<div class="container">\n<h1 class="page-title">'
        f'{escape(heading)}</h1>\n<div class="archive-list">\n{items}\n'
        '<a href="#" class="load-more" onclick="loadMore(); return false;">Load More</a>\n</div>\n'
        f"{pager}</div>"
    )
    return document(f"{heading} | KCNA Watch", body)
