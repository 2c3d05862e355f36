"""Extraction: article pages per second through ``extract_page`` against lxml parsing alone.

A few hundred article pages are rendered from the corpus in the three layouts (kcna.kp ``/q/``,
kcna.kp ``/detail/``, KCNA Watch). Each extractor runs over all of them repeatedly; the best
pass counts. ``lxml.html.fromstring`` alone is the baseline; a basic parsel CSS extraction and
trafilatura's generic extraction (when installed) are shown for reference.

    python bench/extract.py [--pages 300] [--seconds 2] [--profile extract.prof]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == HERE:
    sys.path[0] = str(HERE.parent)  # the project's packages, not this folder's scripts

import argparse  # noqa: E402
import cProfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402
from typing import Any  # noqa: E402

import lxml.html  # noqa: E402
from parsel import Selector  # noqa: E402

from bench._common import (  # noqa: E402
    Row,
    best_rate,
    best_rates,
    corpus_argument,
    load_corpus,
    print_profile,
    print_table,
)
from crawler.extract import extract_page  # noqa: E402
from crawler.extract.records import ArticleRecord, ListingEntry  # noqa: E402
from replica.corpus import group_articles  # noqa: E402
from replica.render import kcna, kcnawatch  # noqa: E402
from replica.site import KCNA, KCNAWATCH  # noqa: E402

TARGET_RATIO = 0.25
TODAY = date(2025, 1, 1)


@dataclass(frozen=True)
class Sample:
    layout: str
    url: str
    text: str
    hint: ListingEntry | None


def samples(records: list[dict[str, Any]], count: int) -> list[Sample]:
    """``count`` article pages, a third in each layout, from distinct corpus articles."""
    articles = [group[0] for group in group_articles(records)]
    out: list[Sample] = []
    index = 0
    while len(out) < count:
        rec = articles[index % len(articles)]
        layout = ("q", "detail", "kcnawatch")[index % 3]
        index += 1
        if layout == "q":
            stamp = "gregorian" if rec["published"] >= "2024-10-25" else "juche"
            out.append(Sample(layout, rec["url"], kcna.render_q_article(rec, stamp=stamp), None))
        elif layout == "detail":
            url = KCNA + kcna.detail_path(rec)
            hint = ListingEntry(url, rec["title"], date.fromisoformat(rec["published"]))
            out.append(Sample(layout, url, kcna.render_detail_article(rec), hint))
        else:
            url = KCNAWATCH + kcnawatch.kcnawatch_path(rec)
            html = kcnawatch.render_kcnawatch_article(
                rec, page_url=url, original_url=rec["url"], stamp=None
            )
            out.append(Sample(layout, url, html, None))
    return out


def ours(pages: list[Sample]) -> Callable[[], int]:
    def work() -> int:
        for page in pages:
            record = extract_page(page.url, page.text, hint=page.hint, today=TODAY)
            assert isinstance(record, ArticleRecord), page.url
        return len(pages)

    return work


def lxml_parse(pages: list[Sample]) -> Callable[[], int]:
    def work() -> int:
        for page in pages:
            lxml.html.fromstring(page.text)
        return len(pages)

    return work


def parsel_basic(pages: list[Sample]) -> Callable[[], int]:
    """What a minimal spider does: parse, take the title and the paragraphs' text."""

    def work() -> int:
        for page in pages:
            sel = Selector(text=page.text)
            sel.css("h1 ::text, title::text").get()
            "\n".join(sel.css("p ::text").getall())
        return len(pages)

    return work


def trafilatura_extract(pages: list[Sample]) -> Callable[[], int] | None:
    try:
        import trafilatura  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None

    def work() -> int:
        for page in pages:
            trafilatura.extract(page.text, url=page.url)
        return len(pages)

    return work


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpus_argument(parser)
    parser.add_argument("--pages", type=int, default=300, help="article pages (300)")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="time each extractor runs at least (2)"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="profile extract_page into FILE"
    )
    return parser.parse_args()


def layout_rows(pages: list[Sample], seconds: float) -> list[Row]:
    """``extract_page`` against lxml alone on the pages of each layout."""
    rows = []
    for layout in ("q", "detail", "kcnawatch"):
        subset = [p for p in pages if p.layout == layout]
        by_layout = best_rates(
            {"lxml": lxml_parse(subset), "ours": ours(subset)},
            repeats=3,
            min_seconds=seconds / 3,
        )
        rows.append(
            Row(
                f"  {layout} layout articles/s",
                f"{by_layout['ours']:,.0f}",
                f"{by_layout['lxml']:,.0f}",
                by_layout["ours"] / by_layout["lxml"],
            )
        )
    return rows


def trafilatura_row(pages: list[Sample], base: float) -> Row:
    """trafilatura's generic extraction, for reference (skipped when not installed)."""
    traf = trafilatura_extract(pages)
    if traf is None:
        print("trafilatura not installed: skipped")
        return Row("trafilatura.extract pages/s", "skipped (not installed)")
    traf_rate = best_rate(traf, repeats=1)
    return Row("trafilatura.extract pages/s", f"{traf_rate:,.0f}", "", traf_rate / base)


def profile(pages: list[Sample], path: Path) -> None:
    work = ours(pages)
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [work() for _ in range(5)])
    profiler.dump_stats(str(path))
    print_profile(path)


def main() -> int:
    options = parse_options()
    pages = samples(load_corpus(options.corpus), options.pages)
    size = sum(len(p.text.encode()) for p in pages) / len(pages)
    print(f"{len(pages)} article pages, {size / 1024:.1f} KiB on average")

    ours(pages)()  # warm up (and check every page is read as an article)
    rates = best_rates(
        {"lxml": lxml_parse(pages), "ours": ours(pages), "parsel": parsel_basic(pages)},
        repeats=3,
        min_seconds=options.seconds,
    )
    base, mine, basic = rates["lxml"], rates["ours"], rates["parsel"]
    rows = [
        Row(
            "extract_page articles/s",
            f"{mine:,.0f}",
            f"{base:,.0f} (lxml parse only)",
            mine / base,
            f">= {TARGET_RATIO}x",
            mine / base >= TARGET_RATIO,
        ),
        *layout_rows(pages, options.seconds),
        Row("parsel basic CSS extraction pages/s", f"{basic:,.0f}", "", basic / base),
        trafilatura_row(pages, base),
    ]
    print_table("Extraction (article pages per second, one core)", rows)
    if options.profile is not None:
        profile(pages, options.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
