"""The old kcna.kp site and bodies that are no page at all: a real JavaScript-only home page, a
real XML API answer, binary garbage."""

from __future__ import annotations

from replica.render import markup

from .common import KCNA, Inputs, write_case

LAYOUT = "kcna_old"
TODAY = {"today": "2026-11-27"}
HOME = "kcna_old_home_retrieveHomeInfoList_ko_2020-12_bs4reserialized.html"
XML_ARTICLE = "kcna_old_xmlapi_ar0099775_ja.xml"


def write_all(inputs: Inputs) -> None:
    write_case(
        LAYOUT,
        "real_home_page_2020_javascript_only",
        KCNA + "/kcna.user.home.retrieveHomeInfoList.kcmsf",
        inputs.real_page(HOME),
        {"kind": "not-an-article", "reason_contains": "javascript-only"},
        TODAY,
    )
    write_case(
        LAYOUT,
        "real_xml_api_article",
        KCNA + "/kcna.user.article.retrieveArticleInfoList.kcmsf",
        inputs.real_page(XML_ARTICLE),
        {"kind": "error", "reason_contains": "XML"},
        TODAY,
    )
    write_case(
        LAYOUT,
        "garbage_binary_body",
        KCNA + "/en/article/q/" + markup.token("garbage", length=32) + ".kcmsf",
        bytes(range(256)) * 4,
        {"kind": "error", "reason_contains": "not a text page"},
        TODAY,
    )
