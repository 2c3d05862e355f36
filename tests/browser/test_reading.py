"""In a browser: search from the box, open a result and see the hit marked; read an edited
article's history with the changed words marked; hostile markup in article text stays text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.archive import AFTER, DELETED_WORDS, HOSTILE, INSERTED_WORDS, Archive
from tests.browser.person import (
    policy_violations,
    pwned,
    result,
    result_titles,
    search_from_box,
    texts,
)

pytestmark = pytest.mark.browser


def test_a_query_typed_in_the_box_finds_the_article_and_its_page_marks_the_hit(
    page: Any, site: str, archive: Archive
) -> None:
    search_from_box(page, site, "fish farm")
    assert re.search(r"/search\?(.*&)?q=fish(\+|%20)farm", page.url)
    assert result_titles(page) == [archive.edited_title]
    assert "1 result" in page.locator(".count").inner_text()
    marked = [text.lower() for text in texts(page, "ol.results .snippet mark")]
    assert "fish" in marked and "farm" in marked

    with page.expect_navigation():
        result(page, archive.edited_title).locator("a.title").click()
    assert archive.path_of(archive.edited_title) in page.url
    assert "q=" in page.url
    assert " ".join(page.locator("h1").inner_text().split()) == archive.edited_title
    hits = [text.lower() for text in texts(page, ".article-text mark")]
    assert "fish" in hits and "farm" in hits
    assert AFTER in " ".join(page.locator(".article-text").inner_text().split())

    # Reached without a search, nothing is marked.
    page.goto(site + archive.path_of(archive.edited_title))
    assert page.locator(".article-text p").count() > 1
    assert page.locator(".article-text mark").count() == 0


def test_the_history_of_an_edited_article_marks_the_changed_words(
    page: Any, site: str, archive: Archive
) -> None:
    page.goto(site + archive.path_of(archive.edited_title))
    versions = page.locator("section#versions")
    versions.scroll_into_view_if_needed()
    assert versions.locator("div.diff").count() == 1  # two versions, one pair
    deleted = " ".join(texts(page, "section#versions div.diff del"))
    inserted = " ".join(texts(page, "section#versions div.diff ins"))
    for word in DELETED_WORDS:
        assert word in deleted.split() and word not in inserted
    for word in INSERTED_WORDS:
        assert word in inserted.split() and word not in deleted
    # Word by word: the unchanged words of the sentence are not marked.
    for word in ("delegation", "toured", "county"):
        assert word not in deleted and word not in inserted
    assert "delegation toured" in versions.locator("div.diff").inner_text()
    assert "edited" in page.locator("ol.timeline").inner_text().lower()


def test_markup_in_article_text_is_shown_as_text_and_never_runs(
    page: Any, site: str, archive: Archive
) -> None:
    page.goto(site + archive.path_of(archive.hostile_title))
    text = page.locator(".article-text")
    assert HOSTILE in " ".join(text.inner_text().split())
    assert text.locator("script, img").count() == 0
    assert pwned(page) is None

    search_from_box(page, site, "hostile markup")
    assert result_titles(page) == [archive.hostile_title]
    snippet = " ".join(result(page, archive.hostile_title).locator(".snippet").inner_text().split())
    assert "<script>window.__pwned = 1</script>" in snippet or "onerror=" in snippet
    assert page.locator("ol.results script, ol.results img").count() == 0
    assert pwned(page) is None
    assert page.errors == []


def test_a_malformed_query_says_what_is_wrong_in_one_line(page: Any, site: str) -> None:
    search_from_box(page, site, 'Korea "unclosed', status=400)
    shown = page.locator("main").inner_text()
    assert "quote" in shown.lower()
    assert "Traceback" not in page.content()
    assert page.locator("form.search input[name=q]").is_visible()  # to try again
    assert policy_violations(page) == []
