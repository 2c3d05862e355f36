"""kcna.kp ``/detail/`` pages: articles dated by hint or dateline, listings paged by a form with
a CSRF token, pages whose ``<main>`` is empty without a session, a real gallery excerpt."""

from __future__ import annotations

from typing import Any

from replica.render import kcna, markup

from .common import KCNA, Inputs, article, entry, listing, title_of, write_case

LAYOUT = "kcna_detail"
TODAY = {"today": "2026-11-27"}
GALLERY = "excerpt_kcna_newscheme_gallery_detail_quirks_2026-09.html"


def url(r: dict[str, Any]) -> str:
    return KCNA + kcna.detail_path(r)


def art(r: dict[str, Any], **fields: Any) -> dict[str, Any]:
    key = "kcna-detail:" + kcna.detail_path(r).rsplit("/", 1)[-1]
    return article(r, url(r), source_key=key, **fields)


def write_all(inputs: Inputs) -> None:
    hinted_and_dateline_articles(inputs)
    plain_articles(inputs)
    first_listing_page(inputs)
    last_and_empty_listings(inputs)
    not_articles(inputs)


def hinted_and_dateline_articles(inputs: Inputs) -> None:
    """Articles dated by the listing's hint or by their dateline."""
    r = inputs.rec("united_russia")
    hint = {"url": url(r), "title": title_of(r), "published": r["published"], "teaser": None}
    write_case(
        LAYOUT,
        "article_listing_hint_wrapped_names_empty_h1",
        url(r),
        kcna.render_detail_article(r),
        art(r, published_from="listing"),
        {"today": "2026-11-27", "hint": hint},
    )
    r = inputs.rec("japan")  # dateline December 24, crawled January 3: previous year
    write_case(
        LAYOUT,
        "article_dateline_previous_year",
        url(r),
        kcna.render_detail_article(r, empty_second_h1=False),
        art(r, published="2025-12-24", published_from="dateline"),
        {"today": "2026-01-03"},
    )
    r = inputs.rec("helicopters")
    write_case(
        LAYOUT,
        "article_real_curly_quotes_gallery_link",
        url(r),
        kcna.render_detail_article(r, gallery_link=True),
        art(r, published="2026-07-31", published_from="dateline"),
        TODAY,
    )


def plain_articles(inputs: Inputs) -> None:
    """An article with no date to find, one with real no-break spaces, an empty ``<main>``."""
    r = inputs.rec("anoraks")
    write_case(
        LAYOUT,
        "article_no_dateline_no_hint",
        url(r),
        kcna.render_detail_article(r, wrap_names=False),
        art(r, published=None, published_from=None),
        TODAY,
    )
    r = inputs.rec("floral")
    write_case(
        LAYOUT,
        "article_real_nbsp",
        url(r),
        kcna.render_detail_article(r, nbsp=True),
        art(r, published="2026-02-10", published_from="dateline"),
        TODAY,
    )
    write_case(
        LAYOUT,
        "article_empty_main_without_session",
        url(inputs.rec("farm_machines")),
        kcna.render_empty_main_page(),
        {"kind": "error", "reason_contains": "empty <main>"},
        TODAY,
    )


def first_listing_page(inputs: Inputs) -> None:
    """The first page of a list: featured links repeated, further pages by form POST."""
    list_url = KCNA + kcna.list_path("Latest News")
    items = [inputs.rec(k) for k in ("united_russia", "school", "farm_machines", "women", "kuwait")]
    days = ["2026-07-19", "2026-07-19", "2026-07-18", "2026-07-18", "2026-07-17"]
    entries = [(kcna.detail_path(r), title_of(r), d) for r, d in zip(items, days, strict=True)]
    csrf = markup.token("csrf", "latest", length=36)
    write_case(
        LAYOUT,
        "listing_first_page_paging_form_repeated_links",
        list_url,
        kcna.render_detail_listing(
            entries,
            list_url_path=kcna.list_path("Latest News"),
            page=1,
            page_count=24,
            csrf=csrf,
            total=356,
            category="Latest News",
            featured=2,
        ),
        listing(
            list_url,
            [entry(url(r), title_of(r), d) for r, d in zip(items, days, strict=True)],
            next_pages=[
                {
                    "url": list_url,
                    "method": "POST",
                    "formdata": [
                        ["page_num", "2"],
                        ["cnt_per_page", "15"],
                        ["keyword", ""],
                        ["_csrf", csrf],
                    ],
                    "page": 2,
                }
            ],
            category="Latest News",
            current_page=1,
            page_count=24,
        ),
    )


def last_and_empty_listings(inputs: Inputs) -> None:
    """The last page of a list, and a list whose ``<main>`` is empty without a session."""
    list_url = KCNA + kcna.list_path("Documents")
    items = [inputs.rec("modernization")]
    write_case(
        LAYOUT,
        "listing_last_page",
        list_url,
        kcna.render_detail_listing(
            [(kcna.detail_path(items[0]), title_of(items[0]), "2025-08-02")],
            list_url_path=kcna.list_path("Documents"),
            page=4,
            page_count=4,
            csrf="x",
            category="Documents",
        ),
        listing(
            list_url,
            [entry(url(items[0]), title_of(items[0]), "2025-08-02")],
            category="Documents",
            current_page=4,
            page_count=4,
        ),
    )
    list_url = KCNA + kcna.list_path("Top News")
    write_case(
        LAYOUT,
        "listing_empty_main_without_session",
        list_url,
        kcna.render_empty_main_page(),
        listing(list_url, [], category=None),
    )


def not_articles(inputs: Inputs) -> None:
    """A real gallery page and a page with the menu only."""
    write_case(
        LAYOUT,
        "real_gallery_excerpt",
        KCNA + "/en/gallery/detail/90cb015a4c372ff0af6743daf82bdf3c",
        inputs.real_page(GALLERY),
        {"kind": "not-an-article", "reason_contains": "gallery"},
        TODAY,
    )
    write_case(
        LAYOUT,
        "menu_only_page",
        KCNA + "/en/",
        kcna.render_empty_main_page(),
        {"kind": "not-an-article", "reason_contains": "menu-only"},
        TODAY,
    )
