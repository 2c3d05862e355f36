"""What a person does in the reading room, and reads off its pages, in the words of the HTML
contract the pages keep (``form.search``, ``ol.results > li``, ``a.title``, ``nav.pages``...)."""

from __future__ import annotations

from typing import Any

PHONE = {"width": 390, "height": 844}


def search_from_box(
    page: Any, site: str, query: str, start: str = "/", *, status: int = 200
) -> None:
    """Open ``start``, type ``query`` into the header's search box and press Enter; the
    page must answer ``status``."""
    page.goto(site + start)
    box = page.locator("form.search input[name=q]")
    box.fill(query)
    with page.expect_navigation() as navigation:
        box.press("Enter")
    answer = navigation.value
    assert answer is not None and answer.status == status, f"{page.url}: {answer and answer.status}"


def result_titles(page: Any) -> list[str]:
    """The titles listed on a results page, in order."""
    return [" ".join(t.split()) for t in page.locator("ol.results > li a.title").all_inner_texts()]


def result(page: Any, title: str) -> Any:
    """The results list's item of the article titled ``title``."""
    return page.locator("ol.results > li").filter(has=page.locator("a.title", has_text=title))


def texts(page: Any, selector: str) -> list[str]:
    """The visible text of every element ``selector`` matches."""
    return [" ".join(t.split()) for t in page.locator(selector).all_inner_texts()]


def pwned(page: Any) -> Any:
    """What hostile markup would have set on the window: None while it stayed inert."""
    return page.evaluate("() => window.__pwned === undefined ? null : window.__pwned")


def scroll_width(page: Any) -> int:
    """How wide the page's content is: more than the viewport means a horizontal scroll."""
    return page.evaluate("() => document.scrollingElement.scrollWidth")


def policy_violations(page: Any) -> list[str]:
    """The console's reports of what the Content-Security-Policy blocked on the page."""
    return [text for text in page.console_errors if "Content Security Policy" in text]
