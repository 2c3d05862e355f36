"""Render corpus-like article records as HTML pages of each source layout.

A *record* is a dict like a line of the corpus: ``url``, ``title``, ``published``
(``YYYY-MM-DD``), ``topics`` and ``text`` (one paragraph per line, dateline first, ``-0-`` last).

A listing *entry* is a tuple ``(href, title, published)`` or ``(href, title, published, teaser)``:
``href`` is written into the page as given (pass a path such as ``/en/article/detail/<hex>`` for
the relative links of kcna.kp), ``published`` a ``date``, an ISO string or None.

The quirks described for each layout are switches with defaults that match the real sites.
Everything is deterministic: ids and tokens are derived from the input with hashes.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

Record = Mapping[str, Any]
Entry = Sequence[Any]  # (href, title, published[, teaser])

LEADERS = ("Kim Jong Un", "Kim Il Sung", "Kim Jong Il")
_LEADER_RE = re.compile("|".join(re.escape(name) for name in LEADERS))

KCNA_HOST = "http://www.kcna.kp"
ACTIVE = ' class="active"'
KCNAWATCH_HOST = "https://kcnawatch.org"

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

#: The site's own date shown at the top of every KCNA Watch page (not an article date).
KCNAWATCH_SITE_DATE = date(2026, 2, 12)


# --- small helpers -----------------------------------------------------------------------------


def token(*parts: object, length: int = 32) -> str:
    """A deterministic hex token derived from ``parts``."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return (digest * (length // 64 + 1))[:length]


def _date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _entry(entry: Entry) -> tuple[str, str, date | None, str | None]:
    href, title, published = entry[0], entry[1], _date(entry[2])
    teaser = entry[3] if len(entry) > 3 else None
    return href, title, published, teaser


def _escape(text: str) -> str:
    return html.escape(text, quote=False).replace("\xa0", "&nbsp;")


def inline_html(
    text: str, *, wrap_names: bool = True, nbsp: bool = False, curly_quotes: bool = False
) -> str:
    """One paragraph as KCNA writes it.

    ``wrap_names`` wraps every leader name in ``<nobr><span class='fSpecCs'>``; ``nbsp`` turns
    the first ", " into ",&nbsp;"; ``curly_quotes`` turns apostrophes between letters into ’.
    A no-break space already in the text is always written as ``&nbsp;``.
    """
    if curly_quotes:
        text = re.sub(r"(?<=\w)'(?=\w)", "\u2019", text)
    out = _escape(text)
    if wrap_names:
        out = _LEADER_RE.sub(_wrapped_name, out)
    if nbsp:
        out = out.replace(", ", ",&nbsp;", 1)
    return out


def _wrapped_name(match: re.Match[str]) -> str:
    return f"<nobr><span class='fSpecCs'>{match.group(0)}</span></nobr>"


def paragraphs(rec: Record) -> list[str]:
    """The record's paragraphs, one per line of ``text``."""
    return [line for line in rec["text"].split("\n") if line.strip()]


def stamp_text(published: date | str, style: Literal["juche", "gregorian"]) -> str:
    """``www.kcna.kp (Juche112.12.4.)`` or ``www.kcna.kp (2023.12.4.)``."""
    day = _date(published)
    assert day is not None
    year = f"Juche{day.year - 1911}" if style == "juche" else str(day.year)
    return f"www.kcna.kp ({year}.{day.month}.{day.day}.)"


def _dotted(day: date | None, style: str = "plain") -> str:
    """``[2026.7.19.]`` (plain), ``[Juche113.1.17.]`` (juche) or ``[2024.02.11.]`` (padded)."""
    if day is None:
        return ""
    if style == "juche":
        return f"[Juche{day.year - 1911}.{day.month}.{day.day}.]"
    if style == "padded":
        return f"[{day:%Y.%m.%d}.]"
    return f"[{day.year}.{day.month}.{day.day}.]"


def detail_path(rec: Record) -> str:
    """A stable ``/en/article/detail/<32 hex>`` path for a corpus record."""
    return f"/en/article/detail/{token('detail', rec['title'], rec['published'])}"


def list_path(category: str) -> str:
    """The ``/en/article/list/<32 hex>`` path of a category in the /detail/ layout."""
    return f"/en/article/list/{token('list', category)}"


def q_category_path(category: str) -> str:
    """The ``/en/category/articles/q/<32 hex>.kcmsf`` path of a category in the /q/ layout."""
    return f"/en/category/articles/q/{token('q-category', category)}.kcmsf"


def slug(title: str) -> str:
    """A WordPress-like slug."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower().replace("'", "")).strip("-")


def kcnawatch_path(rec: Record) -> str:
    """A stable ``/newstream/<unix time>-<n>/<slug>/`` path for a corpus record."""
    day = _date(rec["published"])
    assert day is not None
    ingested = int(datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC).timestamp())
    number = int(token("kw", rec["title"], rec["published"], length=8), 16) % 10**9
    return f"/newstream/{ingested}-{number}/{slug(rec['title'])}/"


def _page(title: str, body: str, *, head_extra: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_escape(title)}</title>\n{head_extra}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# --- kcna.kp /q/ layout --------------------------------------------------------------------------


def _q_menu() -> str:
    items = "".join(
        f'<li><a href="{q_category_path(name)}">{_escape(name)}</a></li>' for name in CATEGORIES
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
    return _page(f"KCNA | Article | {rec['title']}", body)


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
    for href, title, published, _ in map(_entry, entries):
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
        f'<h3 class="category-title">{_escape(category)}</h3>\n'
        f'<ul class="article-link">\n{chr(10).join(items)}\n</ul>\n{paging}\n</div>'
    )
    return _page(f"KCNA | {category}", body)


# --- kcna.kp /detail/ layout ---------------------------------------------------------------------


def _detail_menus() -> str:
    """The same category links three times: desktop, mobile and tile menus (all relative)."""
    links = "".join(f'<li><a href="{list_path(n)}">{_escape(n)}</a></li>' for n in CATEGORIES)
    tiles = "".join(
        f'<div class="tile"><a href="{list_path(n)}">{_escape(n)}</a></div>' for n in CATEGORIES
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
    return _page(f"KCNA | {rec['title']}", body)


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
    rows = [_entry(e) for e in entries]

    def item(href: str, title: str, published: date | None) -> str:
        return (
            f'<div class="article"><h5 class="block"><a href="{html.escape(href)}">'
            f"{_nobr_names(title)}</a></h5>\n"
            f"<span><nobr>{_dotted(published)}</nobr></span></div>"
        )

    top = "\n".join(item(h, t, p) for h, t, p, _ in rows[:featured])
    listed = "\n".join(item(h, t, p) for h, t, p, _ in rows)
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
        f'<h3 class="category-title">{_escape(category)}</h3>\n'
        + (f'<div class="featured">\n{top}\n</div>\n' if top else "")
        + f'<div class="article-list">\n{listed}\n</div>\n'
        f'<div class="pagination">{pager}</div>\n{form}\n</div>\n</main>\n{script}'
    )
    return _page(f"KCNA | {category}", body)


def _nobr_names(title: str) -> str:
    """A list title with its own ``<nobr>`` around leader names."""
    return _LEADER_RE.sub(lambda m: f"<nobr>{m.group(0)}</nobr>", _escape(title))


def render_empty_main_page(title: str = "KCNA") -> str:
    """What the /detail/ site answers without its session cookie: menus and an empty ``<main>``."""
    return _page(title, f"{_detail_menus()}\n<main>\n</main>")


# --- KCNA Watch ----------------------------------------------------------------------------------


def _kcnawatch_header(site_date: date) -> str:
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


def _kcnawatch_item(href: str, title: str, published: date | None, teaser: str | None) -> str:
    shown = f"{published:%b} {published.day}, {published.year}" if published else ""
    return (
        '<article class="clearfix">\n'
        f'<div class="article-thumb"><a href="{html.escape(href)}"><img class="img-fluid" '
        f'src="{_image(title)}" alt="{html.escape(title)}"></a></div>\n'
        f'<div class="article-desc"><h4><a href="{html.escape(href)}">{_escape(title)}</a></h4>\n'
        + (f'<p class="teaser">{_escape(teaser)}</p>\n' if teaser else "")
        + (f'<span class="date">{shown}</span>' if shown else "")
        + "</div>\n</article>"
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
    day = _date(rec["published"])
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
    related = []
    for href, title, published, teaser in map(_entry, more_from):
        shown = f"{published:%B} {published.day}, {published.year}" if published else ""
        related.append(
            '<article class="clearfix more-item">\n'
            f'<div class="article-thumb"><a href="{html.escape(href)}"><img class="img-fluid" '
            f'src="{_image(title)}" alt="{html.escape(title)}"></a></div>\n'
            f'<div class="article-desc"><h4><a href="{html.escape(href)}">'
            f"{_escape(title)}</a></h4>\n"
            f'<p class="excerpt">{_escape(teaser or "")}</p>\n'
            f'<span class="date">{shown}</span>\n'
            f'<p class="excerpt-hover">{_escape(teaser or "")}</p></div>\n</article>'
        )
    more = (
        f'<section class="more-from">\n<h3>More From {_escape(source)}</h3>\n'
        + "\n".join(related)
        + '\n<a class="more-articles" href="/newstream/">More Articles</a>\n</section>'
    )
    head = (
        f'<meta property="og:title" content="{html.escape(rec["title"])}">\n'
        f'<meta property="og:url" content="{html.escape(page_url)}">\n'
        f'<link rel="canonical" href="{html.escape(page_url)}">\n'
        '<link rel="stylesheet" href="/wp-content/themes/kcnawatch/style.css">\n'
    )
    body = (
        f'{_kcnawatch_header(site_date)}\n<div class="container">\n'
        '<div class="breadcrumb"><a href="/newstream/">KCNA</a> <a href="/newstream/">'
        f"{_escape(source)}</a></div>\n"
        '<article class="single-article">\n'
        f'<h1 class="article-title">{_escape(rec["title"])}</h1>\n'
        f'<div class="article-meta"><span>Date: {day:%d/%m/%Y}</span> | <span>Source: '
        f"{_escape(source)}</span>{original}</div>\n{body_html}\n</article>\n{more}\n</div>\n"
        '<footer class="site-footer">KCNA Watch</footer>'
    )
    return _page(f"{rec['title']} | KCNA Watch", body, head_extra=head)


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
    items = "\n".join(_kcnawatch_item(*_entry(e)) for e in entries)
    pager = (
        '<div class="pagination"><a class="next page-numbers" '
        f'href="{html.escape(next_page_path)}">Next</a></div>\n'
        if next_page_path
        else ""
    )
    body = (
        f'{_kcnawatch_header(site_date)}\n<div class="container">\n<h1 class="page-title">'
        f'{_escape(heading)}</h1>\n<div class="archive-list">\n{items}\n'
        '<a href="#" class="load-more" onclick="loadMore(); return false;">Load More</a>\n</div>\n'
        f"{pager}</div>"
    )
    return _page(f"{heading} | KCNA Watch", body)


# --- other pages ---------------------------------------------------------------------------------


def render_blocked_page(url: str = "http://www.kcna.kp/") -> str:
    """A web filter's "Web Page Blocked" page, served instead of the requested page."""
    body = (
        '<div class="block-page"><h1>Web Page Blocked</h1>\n'
        "<p>Access to the web page you were trying to visit has been blocked in accordance with "
        "company policy. Please contact your system administrator if you believe this is "
        "in error.</p>\n"
        f"<p><b>URL:</b> {_escape(url)}</p>\n<p><b>Category:</b> News and Media</p></div>"
    )
    return _page("Web Page Blocked", body)
