"""kcna.kp's two layouts: ``/q/`` articles and category listings, ``/detail/`` articles and the
list they page by form POST; the empty page the site answers without its session, and the page a
web filter shows in place of the site."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import date
from typing import Literal

from replica.render.markup import (
    LEADER_RE,
    Entry,
    Record,
    document,
    escape,
    inline_html,
    paragraphs,
    parse_entry,
    stamp_text,
    token,
)

ACTIVE = ' class="active"'

#: Category names used for the menus of both kcna.kp layouts.
CATEGORIES = (
    "Latest News",
    "Top News",
    "WPK General Secretary Kim Jong Un's Revolutionary Activities",
    "Home News",
    "Documents",
    "External",
    "World",
)


def detail_path(rec: Record) -> str:
    """A stable ``/en/article/detail/<32 hex>`` path for a corpus record."""
    return f"/en/article/detail/{token('detail', rec['title'], rec['published'])}"


def list_path(category: str) -> str:
    """The ``/en/article/list/<32 hex>`` path of a category in the /detail/ layout."""
    return f"/en/article/list/{token('list', category)}"


def q_category_path(category: str) -> str:
    """The ``/en/category/articles/q/<32 hex>.kcmsf`` path of a category in the /q/ layout."""
    return f"/en/category/articles/q/{token('q-category', category)}.kcmsf"


def _dotted(day: date | None, style: str = "plain") -> str:
    """``[2026.7.19.]`` (plain), ``[Juche113.1.17.]`` (juche) or ``[2024.02.11.]`` (padded)."""
    if day is None:
        return ""
    if style == "juche":
        return f"[Juche{day.year - 1911}.{day.month}.{day.day}.]"
    if style == "padded":
        return f"[{day:%Y.%m.%d}.]"
    return f"[{day.year}.{day.month}.{day.day}.]"


# --- /q/ layout ----------------------------------------------------------------------------------


def _q_menu() -> str:
    items = "".join(
        f'<li><a href="{q_category_path(name)}">{escape(name)}</a></li>' for name in CATEGORIES
    )
    return (
        '<div class="header"><a class="logo" href="/en/index.kcmsf">KCNA</a>\n'
        f'<ul class="main-menu">{items}</ul>\n'
        '<form class="search" action="/en/search.kcmsf"><input name="keyword"></form></div>'
    )


def render_q_article(
    rec: Record,
    *,
    stamp: Literal["juche", "gregorian"] | None = "juche",
    wrap_names: bool = True,
    nbsp: bool = True,
    curly_quotes: bool = False,
    end_marker: Literal["inline", "paragraph", "none"] = "inline",
    strong_title: bool = True,
) -> str:
    """A ``/q/`` article page. ``stamp=None`` leaves the page stamp out."""
    lines = paragraphs(rec)
    if end_marker != "inline" and lines:
        lines[-1] = re.sub(r"\s*-0-\s*$", "", lines[-1])
        if end_marker == "paragraph":
            lines.append("-0-")
    body_html = "\n".join(
        f"<p>{inline_html(p, wrap_names=wrap_names, nbsp=nbsp, curly_quotes=curly_quotes)}</p>"
        for p in lines
    )
    title = inline_html(rec["title"], wrap_names=wrap_names)
    if strong_title:
        title = f"<strong>{title}</strong>"
    stamp_html = ""
    if stamp:
        stamp_html = f"\n<span class='publish-time'>{stamp_text(rec['published'], stamp)}</span>"
    body = (
        f'{_q_menu()}\n<div class="container">\n<div class="article-content">\n'
        f'<div class="article-content-title"><div class="article-main-title">{title}</div></div>\n'
        '<div class="article-content-body"><div class="content-wrapper">\n'
        f"{body_html}{stamp_html}\n</div></div>\n</div>\n</div>\n"
        '<div class="footer">Copyright &copy; KCNA</div>'
    )
    return document(f"KCNA | Article | {rec['title']}", body)


def render_q_listing(
    entries: Iterable[Entry],
    *,
    category: str,
    page: int = 1,
    page_links: int = 1,
    session_token: str = "",
    date_style: Literal["juche", "padded"] = "juche",
) -> str:
    """A ``/q/`` category listing.

    Dates are written ``[Juche113.1.17.]`` or, from late 2024, ``[2024.02.11.]``
    (``date_style="padded"``), as seen leaking into titles of scraped listings.

    With ``page_links`` > 1, paging links ``javascript:page(N)`` (the current one with class
    ``active``) and a form posting ``page`` and ``token`` to ``/en/category/articles.kcmsf`` are
    added. This paging structure is an assumption (one public source only).
    """
    items = []
    for href, title, published, _ in map(parse_entry, entries):
        items.append(
            f'<li><a href="{html.escape(href)}">{inline_html(title)}<br>'
            f'<span class="publish-time">{_dotted(published, date_style)}</span></a></li>'
        )
    paging = ""
    if page_links > 1:
        links = " ".join(
            f'<a href="javascript:page({n})"{ACTIVE if n == page else ""}>{n}</a>'
            for n in range(1, page_links + 1)
        )
        paging = (
            f'<div class="pagination">{links}</div>\n'
            '<form id="pageForm" name="pageForm" method="post" '
            'action="/en/category/articles.kcmsf">'
            f'<input type="hidden" name="page" value="{page}">'
            f'<input type="hidden" name="token" value="{session_token or token("q", category)}">'
            "</form>"
        )
    body = (
        f'{_q_menu()}\n<div class="container">\n'
        f'<h3 class="category-title">{escape(category)}</h3>\n'
        f'<ul class="article-link">\n{chr(10).join(items)}\n</ul>\n{paging}\n</div>'
    )
    return document(f"KCNA | {category}", body)


# --- /detail/ layout -----------------------------------------------------------------------------


def _detail_menus() -> str:
    """The same category links three times: desktop, mobile and tile menus (all relative)."""
    links = "".join(f'<li><a href="{list_path(n)}">{escape(n)}</a></li>' for n in CATEGORIES)
    tiles = "".join(
        f'<div class="tile"><a href="{list_path(n)}">{escape(n)}</a></div>' for n in CATEGORIES
    )
    return (
        f'<header><nav class="navbar desktop-menu"><ul>{links}</ul></nav>\n'
        f'<nav class="mobile-menu"><ul>{links}</ul></nav></header>\n'
        f'<div class="tile-menu">{tiles}</div>'
    )


def render_detail_article(
    rec: Record,
    *,
    gallery_link: bool = False,
    empty_second_h1: bool = True,
    wrap_names: bool = True,
    nbsp: bool = True,
) -> str:
    """A ``/detail/`` article page (no date anywhere on it)."""
    body_html = "\n".join(
        f"<p>{inline_html(p, wrap_names=wrap_names, nbsp=nbsp)}</p>" for p in paragraphs(rec)
    )
    second = '\n<h1 class="text-center text-danger"></h1>' if empty_second_h1 else ""
    gallery = ""
    if gallery_link:
        gallery_href = f"/en/gallery/detail/{token('g', rec['title'])}"
        gallery = f'\n<a class="right_button gallery_button" href="{gallery_href}">Photo</a>'
    body = (
        f'{_detail_menus()}\n<main>\n<article>\n<div class="container">\n'
        '<h1 class="text-center text-danger">'
        f"{inline_html(rec['title'], wrap_names=wrap_names)}</h1>"
        f"{second}\n{body_html}{gallery}\n</div>\n</article>\n</main>\n"
        '<footer class="footer">Korean Central News Agency</footer>'
    )
    return document(f"KCNA | {rec['title']}", body)


def render_detail_listing(
    entries: Iterable[Entry],
    *,
    list_url_path: str,
    page: int,
    page_count: int,
    csrf: str,
    per_page: int = 15,
    total: int | None = None,
    category: str = "Latest News",
    featured: int = 0,
) -> str:
    """A ``/detail/`` list page with its paging script and ``form#article_form``.

    ``featured`` repeats the first N entries in a block above the list, as the site's repeated
    links do; an extractor must de-duplicate them.
    """
    rows = [parse_entry(e) for e in entries]
    top = "\n".join(_detail_list_item(h, t, p) for h, t, p, _ in rows[:featured])
    listed = "\n".join(_detail_list_item(h, t, p) for h, t, p, _ in rows)
    total = total if total is not None else page_count * per_page
    script = (
        "<script>\n"
        f"  var total = {total};\n  var cur_page = {page};\n"
        f"  var per_page = {per_page};\n  var page_cnt = {page_count};\n"
        "  function goPage(n) { $('#page_num').val(n); $('#article_form').submit(); }\n"
        "</script>"
    )
    pager = " ".join(f'<a href="javascript:goPage({n})">{n}</a>' for n in range(1, page_count + 1))
    form = (
        f'<form id="article_form" method="post" action="{html.escape(list_url_path)}">'
        f'<input type="hidden" id="page_num" name="page_num" value="{page}">'
        f'<input type="hidden" name="cnt_per_page" value="{per_page}">'
        '<input type="text" name="keyword" value="">'
        f'<input type="hidden" name="_csrf" value="{html.escape(csrf)}">'
        "</form>"
    )
    body = (
        f'{_detail_menus()}\n<main>\n<div class="container">\n'
        f'<h3 class="category-title">{escape(category)}</h3>\n'
        + (f'<div class="featured">\n{top}\n</div>\n' if top else "")
        + f'<div class="article-list">\n{listed}\n</div>\n'
        f'<div class="pagination">{pager}</div>\n{form}\n</div>\n</main>\n{script}'
    )
    return document(f"KCNA | {category}", body)


def _detail_list_item(href: str, title: str, published: date | None) -> str:
    return (
        f'<div class="article"><h5 class="block"><a href="{html.escape(href)}">'
        f"{_nobr_names(title)}</a></h5>\n"
        f"<span><nobr>{_dotted(published)}</nobr></span></div>"
    )


def _nobr_names(title: str) -> str:
    """A list title with its own ``<nobr>`` around leader names."""
    return LEADER_RE.sub(lambda m: f"<nobr>{m.group(0)}</nobr>", escape(title))


def render_empty_main_page(title: str = "KCNA") -> str:
    """What the /detail/ site answers without its session cookie: menus and an empty ``<main>``."""
    return document(title, f"{_detail_menus()}\n<main>\n</main>")


# --- what a web filter shows instead -------------------------------------------------------------


def render_blocked_page(url: str = "http://www.kcna.kp/") -> str:
    """A web filter's "Web Page Blocked" page, served instead of the requested page."""
    body = (
        '<div class="block-page"><h1>Web Page Blocked</h1>\n'
        "<p>Access to the web page you were trying to visit has been blocked in accordance with "
        "company policy. Please contact your system administrator if you believe this is "
        "in error.</p>\n"
        f"<p><b>URL:</b> {escape(url)}</p>\n<p><b>Category:</b> News and Media</p></div>"
    )
    return document("Web Page Blocked", body)
