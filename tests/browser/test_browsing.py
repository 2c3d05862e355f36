"""In a browser: page through results and back with stable URLs, narrow them by source, see
a deleted article's gone mark, read the sources and watch pages, all usable on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.archive import OTHER_SOURCE, Archive
from tests.browser.conftest import SECRETS
from tests.browser.person import (
    PHONE,
    policy_violations,
    result,
    result_titles,
    scroll_width,
    search_from_box,
)

pytestmark = pytest.mark.browser


def test_results_page_forward_and_back_and_a_reload_shows_the_same_page(
    page: Any, site: str
) -> None:
    search_from_box(page, site, "Korea")
    first = result_titles(page)
    assert len(first) == 2  # [web] page_size
    assert page.locator("nav.pages a[rel=prev]").count() == 0

    with page.expect_navigation():
        page.locator("nav.pages a[rel=next]").click()
    second, second_url = result_titles(page), page.url
    assert len(second) == 2 and not set(second) & set(first)
    page.reload()
    assert page.url == second_url and result_titles(page) == second

    with page.expect_navigation():
        page.locator("nav.pages a[rel=next]").click()
    third = result_titles(page)
    assert third and not set(third) & set(first + second)

    with page.expect_navigation():
        page.locator("nav.pages a[rel=prev]").click()
    assert result_titles(page) == second
    with page.expect_navigation():
        page.locator("nav.pages a[rel=prev]").click()
    assert result_titles(page) == first


def test_the_last_page_has_no_next_link(page: Any, site: str, archive: Archive) -> None:
    page.goto(site + "/")
    seen: list[str] = []
    for _ in range(len(archive.ids)):
        seen += result_titles(page)
        following = page.locator("nav.pages a[rel=next]")
        if following.count() == 0:
            break
        with page.expect_navigation():
            following.click()
    assert sorted(seen) == sorted(archive.ids)  # every article once, none twice


def test_a_source_filter_narrows_the_results(page: Any, site: str, archive: Archive) -> None:
    page.goto(site + "/")
    assert f"{len(archive.ids)} articles" in page.locator(".count").inner_text()
    filters = page.locator("form.filters")
    filters.locator("select[name=source]").select_option(label=OTHER_SOURCE)
    with page.expect_navigation():
        filters.locator("[type=submit]").click()
    assert f"{archive.sources[OTHER_SOURCE]} articles" in page.locator(".count").inner_text()
    for meta in page.locator("ol.results > li .meta").all_inner_texts():
        assert OTHER_SOURCE in meta
    # The filter stays chosen on the next page.
    assert filters.locator("select[name=source]").input_value() == OTHER_SOURCE
    with page.expect_navigation():
        page.locator("nav.pages a[rel=next]").click()
    assert "source=" in page.url
    for meta in page.locator("ol.results > li .meta").all_inner_texts():
        assert OTHER_SOURCE in meta


def test_a_deleted_article_shows_its_gone_mark(page: Any, site: str, archive: Archive) -> None:
    search_from_box(page, site, f'"{archive.gone_title}"')
    assert result(page, archive.gone_title).locator(".meta .gone").is_visible()
    with page.expect_navigation():
        result(page, archive.gone_title).locator("a.title").click()
    assert page.locator(".meta .gone").is_visible()
    assert "gone" in page.locator("ol.timeline").inner_text().lower()

    page.goto(site + archive.path_of(archive.edited_title))
    assert page.locator(".meta .gone").count() == 0


def test_the_sources_and_watch_pages_show_what_runs_without_secrets(page: Any, site: str) -> None:
    answer = page.goto(site + "/sources")
    assert answer.status == 200
    table = page.locator("table").first.inner_text()
    assert "kcna" in table and "kcnawatch" in table

    answer = page.goto(site + "/watch")
    assert answer.status == 200
    shown = page.locator("main").inner_text()
    assert "farms" in shown and "webhook" in shown
    for secret in (*SECRETS, "hooks.example.org"):
        assert secret not in page.content()


@pytest.mark.parametrize("page", [PHONE], indirect=True)
def test_every_page_fits_a_phone_and_nothing_is_blocked_by_the_policy(
    page: Any, site: str, archive: Archive
) -> None:
    paths = [
        "/",
        "/search?q=Korea",
        archive.path_of(archive.edited_title),
        archive.path_of(archive.hostile_title),
        "/sources",
        "/watch",
    ]
    too_wide = {}
    for path in paths:
        answer = page.goto(site + path)
        assert answer.status == 200, path
        width = scroll_width(page)
        if width > PHONE["width"]:
            too_wide[path] = width
        assert policy_violations(page) == [], path  # an inline style the CSP blocked
    if too_wide:  # the screenshot shows the first one
        page.goto(site + next(iter(too_wide)))
    assert too_wide == {}, f"wider than {PHONE['width']} px: {too_wide}"
    assert page.locator("form.search input[name=q]").is_visible()
