"""Build the extraction fixtures in tests/fixtures/<layout>/<case>/.

Each case gets ``page.html``, ``url.txt``, ``expected.json`` and, when needed, ``context.json``
(``today`` and the listing ``hint``). Expected values are derived from the *input* (the corpus
record, the seed text, the listing entries), never from the extractor's output, and are then
reviewed by hand.

Usage (from the repository root)::

    python scripts/make_fixtures.py [--shared ../shared]

``--shared`` is the folder holding ``corpus/``, ``seeds/`` and ``real-pages/``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replica.render import kcna, kcnawatch, markup  # noqa: E402

OUT = ROOT / "tests" / "fixtures"
KCNA = "http://www.kcna.kp"
WATCH = "https://kcnawatch.org"
KCNA_EN = "KCNA.kp (En)"

# Corpus records used, by title (the corpus holds each article under several URLs).
PICKS = {
    "kuwait": "Respected Comrade Kim Jong Un Receives Greetings from Kuwaiti Emir",
    "wreath": "Respected Comrade Kim Jong Un Sends Wreath to Friendship Tower",
    "farmers": "Chairman Kim Jong Il Pays Deep Attention to Farmers' Life",
    "anoraks": "Fine Padded Anoraks for Farmers",
    "chinese": "Chinese Delegation Leaves Pyongyang",
    "united_russia": "Respected Comrade Kim Jong Un Receives Greetings from President of United "
    "Russia Party",
    "camping": "Meeting of DPRK and Russian Schoolchildren's Camping Groups Held",
    "helicopters": "KPA Air Force Helicopters Conclude Rescue Operation in Kim Jong Suk County "
    "of Ryanggang Province",
    "japan": "Japan's Discharge of Nuclear-polluted Water Is Crime: KCNA Commentary",
    "floral": "Respected Comrade Kim Jong Un Receives Floral Baskets from Abroad",
    "charge": "Reception Given by Russian Charge d'Affaires ad Interim",
    "farm_machines": "Farm Machines Conveyed to Ogye Farm",
    "women": "Chairman Kim Jong Il's Loving Care for Improving Working Conditions of Women",
    "modernization": "Standard of Modernization Taught by Respected Comrade Kim Jong Un",
    "school": "Site for School Chosen Personally by President Kim Il Sung",
}


# --- expected values, computed from the input --------------------------------------------------


def norm(text: str) -> str:
    return " ".join(text.split())


def title_of(rec: dict[str, Any]) -> str:
    """The corpus title without the listing date that leaked into some of them."""
    return norm(rec["title"].split("\n")[0])


def expected_text(rec: dict[str, Any], *, curly: bool = False) -> str:
    lines = [norm(line) for line in rec["text"].split("\n") if line.strip()]
    lines[-1] = re.sub(r"\s*-0-$", "", lines[-1])
    text = "\n".join(line for line in lines if line)
    return re.sub(r"(?<=\w)'(?=\w)", "\u2019", text) if curly else text


def expected_dateline(rec: dict[str, Any]) -> str | None:
    first = norm(rec["text"].split("\n")[0])
    match = re.match(r"^(.+? \(KCNA\)) ?--", first)
    return match.group(1) if match else None


def article(rec: dict[str, Any], url: str, **fields: Any) -> dict[str, Any]:
    record = {
        "url": url,
        "canonical_url": url,
        "source": KCNA_EN,
        "title": title_of(rec),
        "text": expected_text(rec),
        "published": rec["published"],
        "published_from": "page-stamp",
        "dateline": expected_dateline(rec),
        "categories": [],
        "source_key": None,
        "related": [],
    }
    record.update(fields)
    return {"kind": "article", "record": record}


def listing(url: str, entries: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    data = {
        "url": url,
        "entries": entries,
        "next_pages": [],
        "category": None,
        "current_page": None,
        "page_count": None,
    }
    data.update(fields)
    return {"kind": "listing", "listing": data}


def entry(url: str, title: str, published: str | None, teaser: str | None = None) -> dict:
    return {"url": url, "title": title, "published": published, "teaser": teaser}


def clean_rec(rec: dict[str, Any]) -> dict[str, Any]:
    return {**rec, "title": title_of(rec)}


# --- writing -------------------------------------------------------------------------------------


def write_case(
    layout: str,
    name: str,
    url: str,
    page: str | bytes,
    expected: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> None:
    folder = OUT / layout / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "page.html").write_bytes(page if isinstance(page, bytes) else page.encode("utf-8"))
    (folder / "url.txt").write_text(url + "\n", encoding="utf-8")
    dump = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    (folder / "expected.json").write_text(dump, encoding="utf-8")
    if context:
        dump = json.dumps(context, indent=2, ensure_ascii=False) + "\n"
        (folder / "context.json").write_text(dump, encoding="utf-8")


# --- cases ---------------------------------------------------------------------------------------


def q_cases(rec: Callable[[str], dict[str, Any]]) -> None:
    today = {"today": "2024-12-01"}
    r = rec("kuwait")
    write_case(
        "kcna_q",
        "article_juche_stamp_wrapped_names_nbsp",
        r["url"],
        kcna.render_q_article(r, stamp="juche", nbsp=True),
        article(r, r["url"]),
        today,
    )
    r = rec("wreath")
    write_case(
        "kcna_q",
        "article_gregorian_stamp",
        r["url"],
        kcna.render_q_article(r, stamp="gregorian"),
        article(r, r["url"]),
        today,
    )
    r = rec("farmers")
    write_case(
        "kcna_q",
        "article_real_curly_quotes_end_marker_own_paragraph",
        r["url"],
        kcna.render_q_article(r, end_marker="paragraph", strong_title=False),
        article(r, r["url"]),
        today,
    )
    r = rec("anoraks")
    write_case(
        "kcna_q",
        "article_no_dateline",
        r["url"],
        kcna.render_q_article(r, stamp="juche"),
        article(r, r["url"]),
        today,
    )
    r = rec("chinese")
    hint = {"url": r["url"], "title": title_of(r), "published": r["published"], "teaser": None}
    write_case(
        "kcna_q",
        "article_no_stamp_listing_hint",
        r["url"],
        kcna.render_q_article(r, stamp=None),
        article(r, r["url"], published_from="listing"),
        {**today, "hint": hint},
    )
    r = rec("japan")  # published 2023-12-24; crawled early January: the dateline is last year's
    write_case(
        "kcna_q",
        "article_no_stamp_dateline_previous_year",
        r["url"],
        kcna.render_q_article(r, stamp=None, end_marker="none"),
        article(r, r["url"], published_from="dateline"),
        {"today": "2024-01-05"},
    )
    r = rec("charge")
    write_case(
        "kcna_q",
        "article_curly_apostrophes_switched_on",
        r["url"],
        kcna.render_q_article(r, curly_quotes=True, stamp="gregorian"),
        article(r, r["url"], text=expected_text(r, curly=True)),
        today,
    )
    # truncated transfer: cut in the middle of the second paragraph
    page = kcna.render_q_article(rec("camping"))
    cut = page.index("</p>", page.index("content-wrapper")) + 200
    write_case(
        "kcna_q",
        "malformed_truncated_article",
        rec("camping")["url"],
        page[:cut],
        {"kind": "error", "reason_contains": "truncated"},
        today,
    )

    items = [rec(k) for k in ("school", "women", "farmers", "kuwait")]
    entries = [(r["url"].removeprefix(KCNA), title_of(r), r["published"]) for r in items]
    list_url = KCNA + kcna.q_category_path("Home News")
    token = markup.token("session", "home", length=40)
    write_case(
        "kcna_q",
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
    items = [rec(k) for k in ("modernization", "wreath")]
    entries = [(r["url"].removeprefix(KCNA), title_of(r), r["published"]) for r in items]
    list_url = KCNA + "/en/category/articles/q/" + markup.token("q-page3", length=64) + ".kcmsf"
    write_case(
        "kcna_q",
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
        "kcna_q",
        "listing_empty",
        KCNA + kcna.q_category_path("Documents"),
        kcna.render_q_listing([], category="Documents"),
        listing(KCNA + kcna.q_category_path("Documents"), [], category="Documents"),
    )


def detail_cases(rec: Callable[[str], dict[str, Any]]) -> None:
    def url(r: dict[str, Any]) -> str:
        return KCNA + kcna.detail_path(r)

    def art(r: dict[str, Any], **fields: Any) -> dict[str, Any]:
        key = "kcna-detail:" + kcna.detail_path(r).rsplit("/", 1)[-1]
        return article(r, url(r), source_key=key, **fields)

    r = rec("united_russia")
    hint = {"url": url(r), "title": title_of(r), "published": r["published"], "teaser": None}
    write_case(
        "kcna_detail",
        "article_listing_hint_wrapped_names_empty_h1",
        url(r),
        kcna.render_detail_article(r),
        art(r, published_from="listing"),
        {"today": "2026-11-27", "hint": hint},
    )
    r = rec("japan")  # dateline December 24, crawled January 3: previous year
    write_case(
        "kcna_detail",
        "article_dateline_previous_year",
        url(r),
        kcna.render_detail_article(r, empty_second_h1=False),
        art(r, published="2025-12-24", published_from="dateline"),
        {"today": "2026-01-03"},
    )
    r = rec("helicopters")
    write_case(
        "kcna_detail",
        "article_real_curly_quotes_gallery_link",
        url(r),
        kcna.render_detail_article(r, gallery_link=True),
        art(r, published="2026-07-31", published_from="dateline"),
        {"today": "2026-11-27"},
    )
    r = rec("anoraks")
    write_case(
        "kcna_detail",
        "article_no_dateline_no_hint",
        url(r),
        kcna.render_detail_article(r, wrap_names=False),
        art(r, published=None, published_from=None),
        {"today": "2026-11-27"},
    )
    r = rec("floral")
    write_case(
        "kcna_detail",
        "article_real_nbsp",
        url(r),
        kcna.render_detail_article(r, nbsp=True),
        art(r, published="2026-02-10", published_from="dateline"),
        {"today": "2026-11-27"},
    )
    write_case(
        "kcna_detail",
        "article_empty_main_without_session",
        url(rec("farm_machines")),
        kcna.render_empty_main_page(),
        {"kind": "error", "reason_contains": "empty <main>"},
        {"today": "2026-11-27"},
    )

    list_url = KCNA + kcna.list_path("Latest News")
    items = [rec(k) for k in ("united_russia", "school", "farm_machines", "women", "kuwait")]
    days = ["2026-07-19", "2026-07-19", "2026-07-18", "2026-07-18", "2026-07-17"]
    entries = [(kcna.detail_path(r), title_of(r), d) for r, d in zip(items, days, strict=True)]
    csrf = markup.token("csrf", "latest", length=36)
    write_case(
        "kcna_detail",
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
    list_url = KCNA + kcna.list_path("Documents")
    items = [rec("modernization")]
    write_case(
        "kcna_detail",
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
        "kcna_detail",
        "listing_empty_main_without_session",
        list_url,
        kcna.render_empty_main_page(),
        listing(list_url, [], category=None),
    )


def seed_parts(seed: str) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
    """The seed dump's article and its "More From" items (title, teaser, date)."""
    lines = [line.strip() for line in seed.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("Date: "))
    end = next(i for i, line in enumerate(lines) if line.startswith("www.kcna.kp ("))
    more = next(i for i, line in enumerate(lines) if line.startswith("More From "))
    rec = {
        "url": None,
        "title": lines[start - 1],
        "published": "2023-12-04",
        "topics": [],
        "text": "\n".join(lines[start + 1 : end]),
    }
    items = []
    block = lines[more + 1 :]
    while len(block) >= 5:
        title, again, teaser, shown, teaser2 = block[:5]
        assert title == again and teaser == teaser2, block[:5]
        items.append((title, teaser, shown))
        block = block[5:]
    assert block == ["More Articles"], block
    return rec, items


def kcnawatch_cases(rec: Callable[[str], dict[str, Any]], seed: str) -> None:
    def shown_iso(shown: str) -> str:
        return datetime.strptime(shown, "%B %d, %Y").date().isoformat()

    page_url = (
        WATCH
        + "/newstream/1701650000-123456789/fierce-technical-innovation-contest-witnessed-this-year/"
    )
    original = KCNA + "/en/article/q/" + markup.token("seed-original", length=64) + ".kcmsf"
    seed_rec, items = seed_parts(seed)
    more = []
    related = []
    for title, teaser, shown in items:
        path = kcnawatch.kcnawatch_path({"title": title, "published": shown_iso(shown)})
        more.append((WATCH + path, title, shown_iso(shown), teaser))
        related.append(entry(WATCH + path, title, shown_iso(shown), teaser))
    write_case(
        "kcnawatch",
        "seed_article_more_from",
        page_url,
        kcnawatch.render_kcnawatch_article(
            seed_rec, page_url=page_url, original_url=original, more_from=more
        ),
        article(
            seed_rec,
            page_url,
            canonical_url=original,
            source_key="kcnawatch:1701650000-123456789",
            related=related,
        ),
        {"today": "2026-02-12"},
    )
    # the same "More From" items as a listing page, with relative links and a next page
    list_url = WATCH + "/newstream/"
    write_case(
        "kcnawatch",
        "listing_from_seed_more_from",
        list_url,
        kcnawatch.render_kcnawatch_listing(
            [(m[0].removeprefix(WATCH), *m[1:]) for m in more], next_page_path="/newstream/page/2/"
        ),
        listing(
            list_url,
            related,
            next_pages=[
                {"url": WATCH + "/newstream/page/2/", "method": "GET", "formdata": [], "page": 2}
            ],
            category="Newstream",
            current_page=1,
        ),
    )
    list_url = WATCH + "/newstream/page/2/"
    few = more[5:8]
    write_case(
        "kcnawatch",
        "listing_page_two_no_next_link",
        list_url,
        kcnawatch.render_kcnawatch_listing([(m[0].removeprefix(WATCH), *m[1:]) for m in few]),
        listing(list_url, related[5:8], category="Newstream", current_page=2),
    )

    def copy(key: str, **options: Any) -> tuple[str, str, dict[str, Any]]:
        r = rec(key)
        path = kcnawatch.kcnawatch_path(r)
        page = kcnawatch.render_kcnawatch_article(
            r,
            page_url=WATCH + path,
            original_url=options.pop("original_url", r["url"]),
            more_from=options.pop("more_from", more[:3]),
            **options,
        )
        return WATCH + path, page, r

    def key_of(url: str) -> str:
        return "kcnawatch:" + url.removeprefix(WATCH + "/newstream/").split("/")[0]

    url, page, r = copy("wreath", stamp="gregorian")
    write_case(
        "kcnawatch",
        "article_gregorian_stamp",
        url,
        page,
        article(r, url, canonical_url=r["url"], source_key=key_of(url), related=related[:3]),
        {"today": "2026-11-27"},
    )
    url, page, r = copy("women", stamp=None)
    write_case(
        "kcnawatch",
        "article_no_stamp_meta_line_date",
        url,
        page,
        article(
            r,
            url,
            canonical_url=r["url"],
            source_key=key_of(url),
            related=related[:3],
            published_from="meta-line",
        ),
        {"today": "2026-11-27"},
    )
    r = rec("camping")
    https_original = r["url"].replace("http://www.kcna.kp", "https://kcna.kp")
    url, page, r = copy("camping", original_url=https_original, article_content=False, nbsp=True)
    write_case(
        "kcnawatch",
        "article_no_content_wrapper_https_original_nbsp",
        url,
        page,
        article(r, url, canonical_url=r["url"], source_key=key_of(url), related=related[:3]),
        {"today": "2026-11-27"},
    )
    url, page, r = copy("united_russia", original_url=None, more_from=[])
    write_case(
        "kcnawatch",
        "article_no_original_link_no_more_from",
        url,
        page,
        article(r, url, source_key=key_of(url)),
        {"today": "2026-11-27"},
    )
    url, page, r = copy("anoraks", more_from=more[:1])
    write_case(
        "kcnawatch",
        "article_no_dateline",
        url,
        page,
        article(r, url, canonical_url=r["url"], source_key=key_of(url), related=related[:1]),
        {"today": "2026-11-27"},
    )


def other_cases(real: Path) -> None:
    write_case(
        "kcna_q",
        "blocked_filter_page",
        KCNA + "/en/article/q/" + markup.token("blocked", length=64) + ".kcmsf",
        kcna.render_blocked_page(),
        {"kind": "not-an-article", "reason_contains": "Web Page Blocked"},
        {"today": "2026-11-27"},
    )
    write_case(
        "kcna_detail",
        "real_gallery_excerpt",
        KCNA + "/en/gallery/detail/90cb015a4c372ff0af6743daf82bdf3c",
        (real / "excerpt_kcna_newscheme_gallery_detail_quirks_2026-09.html").read_bytes(),
        {"kind": "not-an-article", "reason_contains": "gallery"},
        {"today": "2026-11-27"},
    )
    write_case(
        "kcna_detail",
        "menu_only_page",
        KCNA + "/en/",
        kcna.render_empty_main_page(),
        {"kind": "not-an-article", "reason_contains": "menu-only"},
        {"today": "2026-11-27"},
    )
    write_case(
        "kcna_old",
        "real_home_page_2020_javascript_only",
        KCNA + "/kcna.user.home.retrieveHomeInfoList.kcmsf",
        (real / "kcna_old_home_retrieveHomeInfoList_ko_2020-12_bs4reserialized.html").read_bytes(),
        {"kind": "not-an-article", "reason_contains": "javascript-only"},
        {"today": "2026-11-27"},
    )
    write_case(
        "kcna_old",
        "real_xml_api_article",
        KCNA + "/kcna.user.article.retrieveArticleInfoList.kcmsf",
        (real / "kcna_old_xmlapi_ar0099775_ja.xml").read_bytes(),
        {"kind": "error", "reason_contains": "XML"},
        {"today": "2026-11-27"},
    )
    write_case(
        "kcna_old",
        "garbage_binary_body",
        KCNA + "/en/article/q/" + markup.token("garbage", length=32) + ".kcmsf",
        bytes(range(256)) * 4,
        {"kind": "error", "reason_contains": "not a text page"},
        {"today": "2026-11-27"},
    )
    write_case(
        "kcnawatch",
        "real_kctv_archive_listing_excerpt",
        WATCH + "/kctv-archive/",
        (real / "excerpt_kcnawatch_kctv_archive_listing_2026-09.html").read_bytes(),
        listing(
            WATCH + "/kctv-archive/",
            [
                entry(
                    WATCH + "/kctv-archive/6aa409684b9ac",
                    "Friday September 11, 2026",
                    "2026-09-11",
                    "Full Broadcast",
                ),
                entry(
                    WATCH + "/kctv-archive/6aa55b3c37ae8",
                    "Saturday September 12, 2026",
                    "2026-09-12",
                    "5pm Bulletin",
                ),
                entry(
                    WATCH + "/kctv-archive/6aa55b965e0f2",
                    "Saturday September 12, 2026",
                    "2026-09-12",
                    "8pm Bulletin",
                ),
            ],
            current_page=1,
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    corpus = args.shared / "corpus" / "kcna-en-2024.jsonl"
    records = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    by_title: dict[str, dict[str, Any]] = {}
    for record in records:
        by_title.setdefault(title_of(record), clean_rec(record))

    def rec(key: str) -> dict[str, Any]:
        return by_title[PICKS[key]]

    seed = (args.shared / "seeds" / "000_53defad97443eaf6.txt").read_text(encoding="utf-8")
    q_cases(rec)
    detail_cases(rec)
    kcnawatch_cases(rec, seed)
    other_cases(args.shared / "real-pages")
    print(f"fixtures written under {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
