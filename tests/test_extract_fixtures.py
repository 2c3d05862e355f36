"""Table-driven extraction tests: every folder tests/fixtures/<layout>/<case>/ is one case.

A case holds ``page.html`` and ``url.txt``; ``context.json`` may give ``today`` (ISO date) and a
listing ``hint``; ``expected.json`` is one of::

    {"kind": "article", "record": <ArticleRecord.to_json()>}
    {"kind": "listing", "listing": {url, entries, next_pages, category, current_page, page_count}}
    {"kind": "not-an-article" | "error", "reason_contains": "..."}

Fixture pages are rebuilt by scripts/make_fixtures.py; their expected values are reviewed by hand.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crawler.extract import extract_page
from crawler.extract.records import (
    ArticleRecord,
    ExtractionError,
    Listing,
    ListingEntry,
    NotAnArticle,
)

FIXTURES = Path(__file__).parent / "fixtures"
DEFAULT_TODAY = date(2026, 11, 27)
CASES = sorted(p.parent for p in FIXTURES.glob("*/*/expected.json"))


def listing_to_json(listing: Listing) -> dict[str, Any]:
    data = asdict(listing)
    for entry in data["entries"]:
        entry["published"] = entry["published"].isoformat() if entry["published"] else None
    data["entries"] = list(data["entries"])
    data["next_pages"] = [
        {**page, "formdata": [list(pair) for pair in page["formdata"]]}
        for page in data["next_pages"]
    ]
    return data


def load_context(case: Path) -> tuple[date, ListingEntry | None]:
    path = case / "context.json"
    context = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    today = date.fromisoformat(context["today"]) if "today" in context else DEFAULT_TODAY
    hint = None
    if context.get("hint"):
        raw = dict(context["hint"])
        raw["published"] = date.fromisoformat(raw["published"]) if raw.get("published") else None
        hint = ListingEntry(**raw)
    return today, hint


def test_fixture_cases_exist() -> None:
    layouts = {case.parent.name for case in CASES}
    assert {"kcna_q", "kcna_detail", "kcnawatch"} <= layouts
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture(case: Path) -> None:
    url = (case / "url.txt").read_text(encoding="utf-8").strip()
    body = (case / "page.html").read_bytes()
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    today, hint = load_context(case)

    if expected["kind"] in ("not-an-article", "error"):
        wanted = NotAnArticle if expected["kind"] == "not-an-article" else ExtractionError
        with pytest.raises(wanted) as caught:
            extract_page(url, body, hint=hint, today=today)
        if expected["kind"] == "error":
            assert not isinstance(caught.value, NotAnArticle), caught.value.reason
        assert expected["reason_contains"] in caught.value.reason
        return

    result = extract_page(url, body, hint=hint, today=today)
    if expected["kind"] == "article":
        assert isinstance(result, ArticleRecord)
        got = result.to_json()
        want = expected["record"]
        assert got["text"] == want["text"]  # compared first: the clearest diff
        assert got == want
        assert "-0-" not in got["text"] and "www.kcna.kp (" not in got["text"]
    else:
        assert isinstance(result, Listing)
        assert listing_to_json(result) == expected["listing"]


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_as_text(case: Path) -> None:
    """The same page given as ``str`` (as Scrapy's ``response.text``) gives the same result."""
    url = (case / "url.txt").read_text(encoding="utf-8").strip()
    body = (case / "page.html").read_bytes()
    today, hint = load_context(case)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8")
    outcomes = []
    for page in (body, text):
        try:
            outcomes.append(extract_page(url, page, hint=hint, today=today))
        except ExtractionError as exc:
            outcomes.append((type(exc), exc.reason))
    assert outcomes[0] == outcomes[1]
