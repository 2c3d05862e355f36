"""Layout details and assumptions not covered by the fixture folders."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from crawler.extract import extract_page, page_kind
from crawler.extract.records import (
    ArticleRecord,
    ExtractionError,
    Listing,
    NotAnArticle,
    PageRequest,
)
from replica.render import kcna, kcnawatch

TODAY = date(2026, 11, 27)
FIXTURES = Path(__file__).parent / "fixtures"
REC = {
    "url": "http://www.kcna.kp/en/article/q/" + "ab" * 32 + ".kcmsf",
    "title": "Respected Comrade Kim Jong Un Inspects Factory",
    "published": "2026-07-19",
    "topics": ["Top News"],
    "text": "Pyongyang, July 19 (KCNA) -- Comrade Kim Jong Un inspected a factory.\n"
    "He praised its workers' efforts. -0-",
}


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://www.kcna.kp/en/article/q/" + "a1" * 16 + ".kcmsf", "kcna-q-article"),
        ("http://kcna.kp/en/article/q/" + "a1" * 48 + ".kcmsf", "kcna-q-article"),
        ("http://www.kcna.kp/en/category/articles/q/" + "b2" * 16 + ".kcmsf", "kcna-q-listing"),
        ("http://www.kcna.kp/en/category/articles.kcmsf", "kcna-q-listing"),
        ("http://www.kcna.kp/en/article/detail/" + "c3" * 16, "kcna-detail-article"),
        ("http://www.kcna.kp/en/article/list/" + "d4" * 16, "kcna-detail-listing"),
        ("http://www.kcna.kp/en/gallery/detail/" + "e5" * 16, "kcna-gallery"),
        ("http://www.kcna.kp/en/gallery/list/" + "e5" * 16, "kcna-gallery"),
        ("http://www.kcna.kp/en/media/video/x", "kcna-gallery"),
        ("http://www.kcna.kp/photo/" + "f6" * 32, "kcna-gallery"),
        ("http://www.kcna.kp/siteFiles/photo/202312/PIC0072367.jpg", "kcna-gallery"),
        ("https://kcnawatch.org/newstream/1701650000-123456789/some-title/", "kcnawatch-article"),
        ("https://kcnawatch.org/newstream/", "kcnawatch-listing"),
        ("https://kcnawatch.org/newstream/page/3/", "kcnawatch-listing"),
        ("https://kcnawatch.org/kctv-archive/", "kcnawatch-listing"),
        ("https://kcnawatch.org/?s=tractor", "kcnawatch-listing"),
        ("https://kcnawatch.org/newstream/feed/", None),
        ("http://www.kcna.kp/en/", None),
        ("https://example.org/newstream/1-2/x/", None),
    ],
)
def test_page_kind(url: str, kind: str | None) -> None:
    assert page_kind(url) == kind


@pytest.mark.parametrize(
    "item",
    [
        # the date after the heading (as render_detail_listing writes it)
        '<h5 class="block"><a href="/en/article/detail/{h}">Comrade <nobr>Kim Jong Un</nobr> '
        "Visits</a></h5><span><nobr>[2026.7.19.]</nobr></span>",
        # the date inside the heading, after the link
        '<h5 class="block"><a href="/en/article/detail/{h}">Comrade <nobr>Kim Jong Un</nobr> '
        "Visits</a> <span><nobr>[2026.7.19.]</nobr></span></h5>",
        # the date inside the link
        '<h5 class="block"><a href="/en/article/detail/{h}">Comrade <nobr>Kim Jong Un</nobr> '
        "Visits<span><nobr>[2026.7.19.]</nobr></span></a></h5>",
        # the date spelt otherwise (assumed possible, read leniently)
        '<h5 class="block"><a href="/en/article/detail/{h}">Comrade <nobr>Kim Jong Un</nobr> '
        "Visits</a></h5><span><nobr>2026-07-19</nobr></span>",
        '<h5 class="block"><a href="/en/article/detail/{h}">Comrade <nobr>Kim Jong Un</nobr> '
        "Visits</a></h5><span><nobr>[July 19, 2026]</nobr></span>",
    ],
)
def test_detail_listing_date_is_the_nobr_holding_a_date(item: str) -> None:
    h = "0a" * 16
    page = f"<html><body><main><div class='article'>{item.format(h=h)}</div></main></body></html>"
    listing = extract_page("http://www.kcna.kp/en/article/list/" + "1b" * 16, page, today=TODAY)
    assert isinstance(listing, Listing)
    [entry] = listing.entries
    assert entry.url == f"http://www.kcna.kp/en/article/detail/{h}"
    assert entry.title == "Comrade Kim Jong Un Visits"
    assert entry.published == date(2026, 7, 19)


def test_detail_listing_without_paging_script_has_no_next_page() -> None:
    page = kcna.render_detail_listing(
        [("/en/article/detail/" + "2c" * 16, "T", "2026-07-19")],
        list_url_path="/en/article/list/" + "3d" * 16,
        page=1,
        page_count=3,
        csrf="tok",
    ).replace("var cur_page", "var other")
    listing = extract_page("http://www.kcna.kp/en/article/list/" + "3d" * 16, page, today=TODAY)
    assert isinstance(listing, Listing)
    assert listing.next_pages == () and listing.current_page is None


def test_q_paging_assumption_posts_the_form_with_the_next_page_number() -> None:
    """Assumed [one source]: ``javascript:page(N)`` links and a form posting to
    /en/category/articles.kcmsf; the page field is the form's first field named *page*."""
    page = kcna.render_q_listing(
        [("/en/article/q/" + "4e" * 32 + ".kcmsf", "T", "2024-07-23")],
        category="World",
        page=2,
        page_links=5,
        session_token="sess",
    )
    url = "http://www.kcna.kp/en/category/articles/q/" + "5f" * 32 + ".kcmsf"
    listing = extract_page(url, page, today=TODAY)
    assert isinstance(listing, Listing)
    assert listing.current_page == 2 and listing.page_count is None
    assert listing.next_pages == (
        PageRequest(
            url="http://www.kcna.kp/en/category/articles.kcmsf",
            method="POST",
            formdata=(("page", "3"), ("token", "sess")),
            page=3,
        ),
    )


def test_q_paging_links_without_form_still_post_to_the_paging_url() -> None:
    html = (
        "<ul class='article-link'><li><a href='/en/article/q/aa.kcmsf'>T<br>"
        "<span class='publish-time'>[2025.1.2.]</span></a></li></ul>"
        "<a href='javascript:page(1)' class='on'>1</a><a href='javascript:page(2)'>2</a>"
    )
    url = "http://www.kcna.kp/en/category/articles/q/" + "6a" * 16 + ".kcmsf"
    listing = extract_page(url, html, today=TODAY)
    assert isinstance(listing, Listing)
    assert listing.next_pages == (
        PageRequest(
            url="http://www.kcna.kp/en/category/articles.kcmsf",
            method="POST",
            formdata=(("page", "2"),),
            page=2,
        ),
    )


def test_kcnawatch_tolerates_missing_h1_and_foreign_original_link() -> None:
    """Assumed structure: the title may only be in og:title; a "Read original" link that does
    not point to kcna.kp leaves the page's own URL as canonical."""
    url = "https://kcnawatch.org/newstream/1700000000-42/x/"
    page = kcnawatch.render_kcnawatch_article(
        REC, page_url=url, original_url="https://rodong.rep.kp/en/x", stamp=None
    ).replace('<h1 class="article-title">', '<div class="article-title">')
    page = page.replace(f"{REC['title']}</h1>", f"{REC['title']}</div>")
    record = extract_page(url, page, today=TODAY)
    assert isinstance(record, ArticleRecord)
    assert record.title == "Respected Comrade Kim Jong Un Inspects Factory"
    assert record.canonical_url == url
    assert record.published == date(2026, 7, 19) and record.published_from == "meta-line"
    assert record.text.endswith("He praised its workers' efforts.")


@pytest.mark.parametrize(
    "shown",
    ["19/07/2026", "19.07.2026", "19-7-2026", "19 July 2026", "July 19, 2026", "2026-07-19"],
)
def test_kcnawatch_meta_line_date_is_read_day_first_in_any_spelling(shown: str) -> None:
    """Real meta lines write DD/MM/YYYY; other spellings are assumed possible and read leniently."""
    url = "https://kcnawatch.org/newstream/1700000000-44/x/"
    page = kcnawatch.render_kcnawatch_article(REC, page_url=url, original_url=None, stamp=None)
    page = page.replace("Date: 19/07/2026<", f"Date: {shown}<")
    record = extract_page(url, page, today=TODAY)
    assert isinstance(record, ArticleRecord)
    assert record.published == date(2026, 7, 19) and record.published_from == "meta-line"


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        ("Jul 19, 2026", date(2026, 7, 19)),
        ("19 July 2026", date(2026, 7, 19)),
        ("July 19th, 2026", date(2026, 7, 19)),
        ("19/07/2026", date(2026, 7, 19)),  # day first, as the site's meta lines
        ("07/19/2026", None),  # month first: not the site's
        ("July 2026", None),  # no day: none is invented
    ],
)
def test_kcnawatch_listing_dates_in_any_spelling(shown: str, expected: date | None) -> None:
    page = kcnawatch.render_kcnawatch_listing([("/newstream/1700000000-45/x/", "T", "2026-07-19")])
    page = page.replace(">Jul 19, 2026<", f">{shown}<")
    listing = extract_page("https://kcnawatch.org/newstream/", page, today=TODAY)
    assert isinstance(listing, Listing)
    [entry] = listing.entries
    assert entry.published == expected


def test_kcnawatch_source_is_read_from_the_meta_line() -> None:
    url = "https://kcnawatch.org/newstream/1700000000-43/x/"
    page = kcnawatch.render_kcnawatch_article(
        REC, page_url=url, original_url=None, source="Rodong Sinmun", stamp=None
    )
    record = extract_page(url, page, today=TODAY)
    assert isinstance(record, ArticleRecord)
    assert record.source == "Rodong Sinmun" and record.source_key == "kcnawatch:1700000000-43"


@pytest.mark.parametrize(
    ("url", "page"),
    [
        ("http://www.kcna.kp/en/article/q/" + "ab" * 32 + ".kcmsf", kcna.render_q_article(REC)),
        ("http://www.kcna.kp/en/article/detail/" + "cd" * 16, kcna.render_detail_article(REC)),
    ],
)
def test_layout_is_sniffed_when_the_url_says_nothing(url: str, page: str) -> None:
    known = extract_page(url, page, today=TODAY)
    sniffed = extract_page("http://mirror.example/page", page, today=TODAY)
    assert isinstance(sniffed, ArticleRecord) and isinstance(known, ArticleRecord)
    assert sniffed.title == known.title and sniffed.text == known.text
    assert sniffed.dateline == known.dateline


def test_blocked_page_is_refused_whatever_the_url() -> None:
    urls = ("https://kcnawatch.org/newstream/", "http://www.kcna.kp/en/article/list/" + "1" * 32)
    for url in urls:
        with pytest.raises(NotAnArticle, match="Web Page Blocked"):
            extract_page(url, kcna.render_blocked_page(), today=TODAY)


PAGES = sorted(FIXTURES.glob("*/*/page.html"))


@pytest.mark.parametrize("path", PAGES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_cut_pages_never_raise_anything_but_extraction_errors(path: Path) -> None:
    """A page cut anywhere gives a result or an ExtractionError, never another exception."""
    url = (path.parent / "url.txt").read_text(encoding="utf-8").strip()
    body = path.read_bytes()
    for cut in range(0, len(body), max(1, len(body) // 23)):
        try:
            result = extract_page(url, body[:cut], today=TODAY)
        except ExtractionError as exc:
            assert exc.reason
        else:
            assert isinstance(result, ArticleRecord | Listing)
