"""kcna.kp ``/q/`` pages: articles under each date stamp, listings paged by form, a block page."""

from __future__ import annotations

from replica.render import kcna, markup

from .common import KCNA, Inputs, article, entry, expected_text, listing, title_of, write_case

LAYOUT = "kcna_q"
TODAY = {"today": "2024-12-01"}


def write_all(inputs: Inputs) -> None:
    stamped_articles(inputs)
    undated_and_odd_articles(inputs)
    paged_listing(inputs)
    last_and_empty_listings(inputs)
    blocked_page()


def stamped_articles(inputs: Inputs) -> None:
    """Articles dated by their page stamp (Juche or Gregorian)."""
    r = inputs.rec("kuwait")
    write_case(
        LAYOUT,
        "article_juche_stamp_wrapped_names_nbsp",
        r["url"],
        kcna.render_q_article(r, stamp="juche", nbsp=True),
        article(r, r["url"]),
        TODAY,
    )
    r = inputs.rec("wreath")
    write_case(
        LAYOUT,
        "article_gregorian_stamp",
        r["url"],
        kcna.render_q_article(r, stamp="gregorian"),
        article(r, r["url"]),
        TODAY,
    )
    r = inputs.rec("farmers")
    write_case(
        LAYOUT,
        "article_real_curly_quotes_end_marker_own_paragraph",
        r["url"],
        kcna.render_q_article(r, end_marker="paragraph", strong_title=False),
        article(r, r["url"]),
        TODAY,
    )
    r = inputs.rec("anoraks")
    write_case(
        LAYOUT,
        "article_no_dateline",
        r["url"],
        kcna.render_q_article(r, stamp="juche"),
        article(r, r["url"]),
        TODAY,
    )


def undated_and_odd_articles(inputs: Inputs) -> None:
    """Articles without a stamp (dated by the listing or the dateline), curly apostrophes, a
    truncated transfer."""
    r = inputs.rec("chinese")
    hint = {"url": r["url"], "title": title_of(r), "published": r["published"], "teaser": None}
    write_case(
        LAYOUT,
        "article_no_stamp_listing_hint",
        r["url"],
        kcna.render_q_article(r, stamp=None),
        article(r, r["url"], published_from="listing"),
        {**TODAY, "hint": hint},
    )
    # published 2023-12-24; crawled early January: the dateline is last year's
    r = inputs.rec("japan")
    write_case(
        LAYOUT,
        "article_no_stamp_dateline_previous_year",
        r["url"],
        kcna.render_q_article(r, stamp=None, end_marker="none"),
        article(r, r["url"], published_from="dateline"),
        {"today": "2024-01-05"},
    )
    r = inputs.rec("charge")
    write_case(
        LAYOUT,
        "article_curly_apostrophes_switched_on",
        r["url"],
        kcna.render_q_article(r, curly_quotes=True, stamp="gregorian"),
        article(r, r["url"], text=expected_text(r, curly=True)),
        TODAY,
    )
    # truncated transfer: cut in the middle of the second paragraph
    page = kcna.render_q_article(inputs.rec("camping"))
    cut = page.index("</p>", page.index("content-wrapper")) + 200
    write_case(
        LAYOUT,
        "malformed_truncated_article",
        inputs.rec("camping")["url"],
        page[:cut],
        {"kind": "error", "reason_contains": "truncated"},
        TODAY,
    )


def paged_listing(inputs: Inputs) -> None:
    """A first listing page with Juche dates and further pages by form POST."""
    items = [inputs.rec(k) for k in ("school", "women", "farmers", "kuwait")]
    entries = [(r["url"].removeprefix(KCNA), title_of(r), r["published"]) for r in items]
    list_url = KCNA + kcna.q_category_path("Home News")
    token = markup.token("session", "home", length=40)
    write_case(
        LAYOUT,
        "listing_juche_dates_with_paging",
        list_url,
        kcna.render_q_listing(
            entries, category="Home News", page=1, page_links=3, session_token=token
        ),
        listing(
            list_url,
            [entry(r["url"], title_of(r), r["published"]) for r in items],
            next_pages=[
                {
                    "url": KCNA + "/en/category/articles.kcmsf",
                    "method": "POST",
                    "formdata": [["page", "2"], ["token", token]],
                    "page": 2,
                }
            ],
            category="Home News",
            current_page=1,
        ),
    )


def last_and_empty_listings(inputs: Inputs) -> None:
    """The last page of a listing (padded dates) and an empty listing."""
    items = [inputs.rec(k) for k in ("modernization", "wreath")]
    entries = [(r["url"].removeprefix(KCNA), title_of(r), r["published"]) for r in items]
    list_url = KCNA + "/en/category/articles/q/" + markup.token("q-page3", length=64) + ".kcmsf"
    write_case(
        LAYOUT,
        "listing_padded_dates_last_page",
        list_url,
        kcna.render_q_listing(
            entries, category="Top News", page=3, page_links=3, date_style="padded"
        ),
        listing(
            list_url,
            [entry(r["url"], title_of(r), r["published"]) for r in items],
            category="Top News",
            current_page=3,
        ),
    )
    write_case(
        LAYOUT,
        "listing_empty",
        KCNA + kcna.q_category_path("Documents"),
        kcna.render_q_listing([], category="Documents"),
        listing(KCNA + kcna.q_category_path("Documents"), [], category="Documents"),
    )


def blocked_page() -> None:
    """The filter's "Web Page Blocked" page served at an article URL."""
    write_case(
        LAYOUT,
        "blocked_filter_page",
        KCNA + "/en/article/q/" + markup.token("blocked", length=64) + ".kcmsf",
        kcna.render_blocked_page(),
        {"kind": "not-an-article", "reason_contains": "Web Page Blocked"},
        {"today": "2026-11-27"},
    )
