"""KCNA Watch pages: the seed article and its "More From" items (as an article and as listing
pages), copies of corpus articles with or without their original's link, a real KCTV archive
listing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from replica.render import kcnawatch, markup

from .common import KCNA, WATCH, Inputs, article, entry, listing, write_case

LAYOUT = "kcnawatch"
TODAY = {"today": "2026-11-27"}
SEED_PAGE = (
    WATCH
    + "/newstream/1701650000-123456789/fierce-technical-innovation-contest-witnessed-this-year/"
)
KCTV = "excerpt_kcnawatch_kctv_archive_listing_2026-09.html"


@dataclass(frozen=True)
class Seed:
    """The seed dump's article and its "More From" items: as rendered on the page (URL,
    title, date, teaser) and as the extractor's expected entries."""

    rec: dict[str, Any]
    more: list[tuple[str, str, str, str]]
    related: list[dict[str, Any]]


def seed_parts(seed: str) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
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


def shown_iso(shown: str) -> str:
    return datetime.strptime(shown, "%B %d, %Y").date().isoformat()


def read_seed(seed: str) -> Seed:
    rec, items = seed_parts(seed)
    more = []
    related = []
    for title, teaser, shown in items:
        path = kcnawatch.kcnawatch_path({"title": title, "published": shown_iso(shown)})
        more.append((WATCH + path, title, shown_iso(shown), teaser))
        related.append(entry(WATCH + path, title, shown_iso(shown), teaser))
    return Seed(rec=rec, more=more, related=related)


def write_all(inputs: Inputs) -> None:
    seed = read_seed(inputs.seed)
    seed_article(seed)
    seed_listings(seed)
    linked_copies(inputs, seed)
    other_copies(inputs, seed)
    kctv_listing(inputs)


def seed_article(seed: Seed) -> None:
    original = KCNA + "/en/article/q/" + markup.token("seed-original", length=64) + ".kcmsf"
    write_case(
        LAYOUT,
        "seed_article_more_from",
        SEED_PAGE,
        kcnawatch.render_kcnawatch_article(
            seed.rec, page_url=SEED_PAGE, original_url=original, more_from=seed.more
        ),
        article(
            seed.rec,
            SEED_PAGE,
            canonical_url=original,
            source_key="kcnawatch:1701650000-123456789",
            related=seed.related,
        ),
        {"today": "2026-02-12"},
    )


def seed_listings(seed: Seed) -> None:
    """The same "More From" items as listing pages, with relative links and a next page."""
    list_url = WATCH + "/newstream/"
    write_case(
        LAYOUT,
        "listing_from_seed_more_from",
        list_url,
        kcnawatch.render_kcnawatch_listing(
            [(m[0].removeprefix(WATCH), *m[1:]) for m in seed.more],
            next_page_path="/newstream/page/2/",
        ),
        listing(
            list_url,
            seed.related,
            next_pages=[
                {"url": WATCH + "/newstream/page/2/", "method": "GET", "formdata": [], "page": 2}
            ],
            category="Newstream",
            current_page=1,
        ),
    )
    list_url = WATCH + "/newstream/page/2/"
    few = seed.more[5:8]
    write_case(
        LAYOUT,
        "listing_page_two_no_next_link",
        list_url,
        kcnawatch.render_kcnawatch_listing([(m[0].removeprefix(WATCH), *m[1:]) for m in few]),
        listing(list_url, seed.related[5:8], category="Newstream", current_page=2),
    )


def watch_copy(
    inputs: Inputs, seed: Seed, key: str, **options: Any
) -> tuple[str, str, dict[str, Any]]:
    """A KCNA Watch copy of the corpus record ``key``: its URL, page and record."""
    r = inputs.rec(key)
    path = kcnawatch.kcnawatch_path(r)
    page = kcnawatch.render_kcnawatch_article(
        r,
        page_url=WATCH + path,
        original_url=options.pop("original_url", r["url"]),
        more_from=options.pop("more_from", seed.more[:3]),
        **options,
    )
    return WATCH + path, page, r


def key_of(url: str) -> str:
    return "kcnawatch:" + url.removeprefix(WATCH + "/newstream/").split("/")[0]


def linked_copies(inputs: Inputs, seed: Seed) -> None:
    """Copies linking their kcna.kp original, dated by stamp or by the meta line."""
    related = seed.related
    url, page, r = watch_copy(inputs, seed, "wreath", stamp="gregorian")
    write_case(
        LAYOUT,
        "article_gregorian_stamp",
        url,
        page,
        article(r, url, canonical_url=r["url"], source_key=key_of(url), related=related[:3]),
        TODAY,
    )
    url, page, r = watch_copy(inputs, seed, "women", stamp=None)
    write_case(
        LAYOUT,
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
        TODAY,
    )


def other_copies(inputs: Inputs, seed: Seed) -> None:
    """Copies without a content wrapper, without an original link, without a dateline."""
    related = seed.related
    https_original = inputs.rec("camping")["url"].replace("http://www.kcna.kp", "https://kcna.kp")
    url, page, r = watch_copy(
        inputs, seed, "camping", original_url=https_original, article_content=False, nbsp=True
    )
    write_case(
        LAYOUT,
        "article_no_content_wrapper_https_original_nbsp",
        url,
        page,
        article(r, url, canonical_url=r["url"], source_key=key_of(url), related=related[:3]),
        TODAY,
    )
    url, page, r = watch_copy(inputs, seed, "united_russia", original_url=None, more_from=[])
    write_case(
        LAYOUT,
        "article_no_original_link_no_more_from",
        url,
        page,
        article(r, url, source_key=key_of(url)),
        TODAY,
    )
    url, page, r = watch_copy(inputs, seed, "anoraks", more_from=seed.more[:1])
    write_case(
        LAYOUT,
        "article_no_dateline",
        url,
        page,
        article(r, url, canonical_url=r["url"], source_key=key_of(url), related=related[:1]),
        TODAY,
    )


def kctv_listing(inputs: Inputs) -> None:
    """A real excerpt of the KCTV archive listing."""
    write_case(
        LAYOUT,
        "real_kctv_archive_listing_excerpt",
        WATCH + "/kctv-archive/",
        inputs.real_page(KCTV),
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
