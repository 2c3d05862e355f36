"""Control characters (C0 and C1 but newline and tab) never reach storage.

Extraction drops them, and terminal escape sequences whole, from every text it reads (the
fixture case kcna_q/article_control_characters has raw ones and numeric references in its
title and body); storage drops them again from whatever it is given.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from crawler.extract import PARSER_VERSION, extract_page
from crawler.extract.text import clean
from storage.db import make_engine
from storage.records import ArticleInput, FailureInput, strip_controls
from storage.repository import Repository

CASE = Path(__file__).parent / "fixtures" / "kcna_q" / "article_control_characters"
#: Every C0 and C1 control character but newline and tab, and DEL.
CONTROLS = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\n\t"]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Joint\x1b[31m Drills\x1b[0m", "Joint Drills"),
        ("bell\x07 and back\x08\x08space", "bell and backspace"),
        ("title\x1b]0;pwned\x07 set", "title set"),
        ("title\x1b]2;pwned\x1b\\ set", "title set"),
        ("a stray \x1b] escape keeps its text", "a stray ] escape keeps its text"),
        ("C1\x9b2J and\x85next", "C12J and next"),  # NEL is whitespace
        ("line\r\nbreak\x0bvertical\x0cfeed", "line break vertical feed"),
        ("nothing to do", "nothing to do"),
    ],
)
def test_clean_drops_escapes_and_control_characters(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


def test_no_control_character_survives_clean() -> None:
    text = "x".join(CONTROLS)
    assert not set(clean(text)) & set(CONTROLS)


def test_the_fixture_page_holds_controls_and_its_record_none() -> None:
    page = (CASE / "page.html").read_bytes()
    for raw in (b"\x1b[31m", b"\x07", b"\x08", b"\xc2\x9b", b"&#27;", b"&#7;", b"&#155;"):
        assert raw in page
    url = (CASE / "url.txt").read_text(encoding="utf-8").strip()
    record = extract_page(url, page, today=date(2024, 12, 1))
    fields = json.dumps(record.to_json(), ensure_ascii=False)
    assert not set(fields) & set(CONTROLS)
    # HTML maps the references &#128; to &#159; to windows-1252 characters (&#155; is "›"):
    # printable, so kept.
    assert record.title == "Joint Military Drills Denounced by \u203a2J KPA Spokesman"


def test_the_parser_version_says_extraction_changed() -> None:
    assert PARSER_VERSION != "1"


def test_strip_controls_keeps_newlines_and_tabs() -> None:
    assert strip_controls("a\tb\nc\x1b[31md\x07\r\x9b") == "a\tb\nc[31md"
    assert strip_controls("plain") == "plain"


def article(**fields: object) -> ArticleInput:
    values: dict[str, object] = {
        "url": "http://www.kcna.kp/en/article/q/0123456789abcdef.kcmsf",
        "canonical_url": "http://www.kcna.kp/en/article/q/0123456789abcdef.kcmsf",
        "source": "KCNA.kp (En)",
        "title": "Title",
        "text": "Text",
        "published": date(2024, 3, 4),
        "published_from": "page-stamp",
        "dateline": "Pyongyang, March 4 (KCNA)",
        "seen_at": NOW,
    }
    values.update(fields)
    return ArticleInput(**values)  # type: ignore[arg-type]


def test_storage_inputs_drop_control_characters() -> None:
    item = article(
        source="KCNA\x1b.kp (En)",
        title="Joint\x1b[31m Drills\x07",
        text="First\x08 paragraph.\n\tSecond\x9b one.",
        dateline="Pyongyang,\x07 March 4 (KCNA)",
        categories=("Top\x1b News",),
        source_key="kcna-detail:\x00ab",
    )
    assert (item.source, item.title, item.dateline) == (
        "KCNA.kp (En)",
        "Joint[31m Drills",
        "Pyongyang, March 4 (KCNA)",
    )
    assert item.text == "First paragraph.\n\tSecond one."
    assert item.categories == ("Top News",)
    assert item.source_key == "kcna-detail:ab"
    failure = FailureInput(url="http://www.kcna.kp/x", reason="HTTP 500 \x1b[2J\x07", at=NOW)
    assert failure.reason == "HTTP 500 [2J"


def test_what_is_stored_and_read_back_has_no_control_character(migrated_sqlite: str) -> None:
    engine = make_engine(migrated_sqlite)
    repo = Repository(engine)
    [saved] = repo.articles.save([article(title="Bell\x07 Title", text="Escape\x1b[31m text")])
    view = repo.articles.get(saved.article_id)
    assert view is not None
    assert (view.title, view.text) == ("Bell Title", "Escape[31m text")
    engine.dispose()
