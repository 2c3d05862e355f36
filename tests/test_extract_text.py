"""Paragraph text and datelines (crawler/extract/text.py)."""

from __future__ import annotations

import pytest
from parsel import Selector

from crawler.extract.text import (
    clean,
    find_dateline,
    finish_paragraphs,
    inline_text,
    paragraphs_of,
)


def first(html: str) -> Selector:
    return Selector(text=html).css("p, h1, a")[0]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            "<p>Comrade <nobr><span class='fSpecCs'>Kim Jong Un</span></nobr> invited</p>",
            "Comrade Kim Jong Un invited",
        ),
        (
            "<p>President<nobr><span class='fSpecCs'>Kim Il Sung</span></nobr>'s work</p>",
            "PresidentKim Il Sung's work",  # glued in the source: nothing is invented
        ),
        ("<p>a&nbsp;b\u00a0 \n\t c</p>", "a b c"),
        ("<p>\u201cquoted\u201d and it\u2019s</p>", "\u201cquoted\u201d and it\u2019s"),
        ("<p>line<br>break</p>", "line break"),
        ("<p>x<script>var a = 1;</script> y</p>", "x y"),
        ("<p>  </p>", ""),
        ("<h1><strong>Title</strong> <nobr>Kim Jong Il</nobr></h1>", "Title Kim Jong Il"),
    ],
)
def test_inline_text(html: str, expected: str) -> None:
    assert inline_text(first(html)) == expected


@pytest.mark.parametrize(
    ("paragraphs", "expected"),
    [
        (["Pyongyang, May 1 (KCNA) -- A.", "B. -0-"], ["Pyongyang, May 1 (KCNA) -- A.", "B."]),
        (["A.", "B.", "-0-"], ["A.", "B."]),
        (["A. -0-", "www.kcna.kp (Juche112.12.4.)"], ["A."]),
        (["A.", "", "  ", "B.-0-"], ["A.", "B."]),
        (["A. -0- www.kcna.kp (2025.12.14.)"], ["A."]),
        (["A. -0-", "www.kcna.kp (Juche 113 (2024).5.1.)"], ["A."]),  # as parse_stamp reads
        (["A.", "B."], ["A.", "B."]),  # no end marker: nothing removed
        (["Score 3-0-1 kept."], ["Score 3-0-1 kept."]),
    ],
)
def test_clean_paragraphs(paragraphs: list[str], expected: list[str]) -> None:
    assert finish_paragraphs(clean(p) for p in paragraphs) == expected


def test_paragraphs_of_keeps_spaces_around_markup() -> None:
    html = (
        "<div><p>Pyongyang, December 4 (KCNA) -- The respected Comrade "
        "<nobr><span class='fSpecCs'>Kim Jong Un</span></nobr> visited.</p>"
        "<p></p><p>It ended. -0-</p>"
        "<span class='publish-time'>www.kcna.kp (Juche112.12.4.)</span></div>"
    )
    assert paragraphs_of(Selector(text=html).css("p")) == [
        "Pyongyang, December 4 (KCNA) -- The respected Comrade Kim Jong Un visited.",
        "It ended.",
    ]


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("Pyongyang, December 4 (KCNA) -- The year", "Pyongyang, December 4 (KCNA)"),
        ("Pyongyang, January 12 (KCNA) --Kim Jong Un, president", "Pyongyang, January 12 (KCNA)"),
        ("Moscow, May 3 (KCNA) -- Russia", "Moscow, May 3 (KCNA)"),
        ("Pyongyang,\u00a0August 18 (KCNA) -- x", "Pyongyang, August 18 (KCNA)"),
        ("One day in May Juche 106 (2017), the respected", None),
        ("Pyongyang, December 4 -- no agency", None),
        ("", None),
    ],
)
def test_find_dateline(paragraph: str, expected: str | None) -> None:
    assert find_dateline(paragraph) == expected
