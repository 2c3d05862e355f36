"""The HTML made from hostile text: snippets with their hits marked, an article's text with a
query's words marked, long unchanged runs folded in a comparison of versions."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from scheduler.web.app import templates
from scheduler.web.markup import highlight, query_pattern, snippet_html
from scheduler.web.pages.article import fold
from scheduler.web.pages.status import target_kind
from scheduler.wordiff import word_diff
from storage.fulltext import HIT_END, HIT_START

S, E = HIT_START, HIT_END


@pytest.mark.parametrize(
    ("snippet", "html"),
    [
        (f"a {S}missile{E} test", "a <mark>missile</mark> test"),
        (f"<b>{S}x{E}</b> & <script>", "&lt;b&gt;<mark>x</mark>&lt;/b&gt; &amp; &lt;script&gt;"),
        (f"{S}open at the end", "<mark>open at the end</mark>"),
        (f"stray{E} end {S}{S}twice{E}{E}", "stray end <mark>twice</mark>"),
        ("", ""),
    ],
)
def test_snippets_are_escaped_then_marked(snippet: str, html: str) -> None:
    result = snippet_html(snippet)
    assert isinstance(result, Markup) and str(result) == html


def marked(text: str, query: str) -> str:
    return str(highlight(text, query_pattern(query)))


@pytest.mark.parametrize(
    ("query", "text", "html"),
    [
        ("missile", "Missiles and a missile.", "<mark>Missiles</mark> and a <mark>missile</mark>."),
        ("missiles", "One missile.", "One <mark>missile</mark>."),
        (
            "nucl*",
            "nuclear, Nucleus; unclear",
            "<mark>nuclear</mark>, <mark>Nucleus</mark>; unclear",
        ),
        (
            '"great success"',
            "a great  success, great fun",
            "a <mark>great  success</mark>, great fun",
        ),
        ("peace OR war -sports", "war and sports", "<mark>war</mark> and sports"),
        ("“curly phrase”", "a curly phrase", "a <mark>curly phrase</mark>"),
        ("launch", "<b>launch</b> & co", "&lt;b&gt;<mark>launch</mark>&lt;/b&gt; &amp; co"),
        ("(a)+", "a.*b (a)+ and", "<mark>a</mark>.*b (<mark>a</mark>)+ and"),
        (
            "launched",
            "launch, launches, launching, launcher",
            "<mark>launch</mark>, <mark>launches</mark>, <mark>launching</mark>, launcher",
        ),
    ],
)
def test_a_querys_words_are_marked_in_escaped_text(query: str, text: str, html: str) -> None:
    assert marked(text, query) == html


@pytest.mark.parametrize("query", ['"open', "-only", "", "OR"])
def test_an_unreadable_query_marks_nothing(query: str) -> None:
    assert query_pattern(query) is None
    assert marked("<i>text</i>", query) == "&lt;i&gt;text&lt;/i&gt;"


def test_long_unchanged_runs_are_folded_around_a_change() -> None:
    old = "\n".join(f"p{n}" for n in range(8))
    new = old.replace("p5", "p5 changed")
    shown, folded = fold(word_diff(old, new))
    kinds = [p.kind if p is not None else None for p in shown]
    assert kinds == [None, "same", "changed", "same", "same"]  # p0-p3 folded, p4 p5 p6 p7
    assert folded == [4, 0, 0, 0, 0]
    one = fold(word_diff("a\nb\nc", "a\nb\nc changed"))
    assert [p.kind for p in one[0] if p is not None] == ["same", "same", "changed"]


def test_targets_are_named_by_kind_only() -> None:
    assert target_kind("log") == "log"
    assert target_kind("webhook:https://hooks.example.org/t0ken") == "webhook"
    assert target_kind("email:someone@example.org") == "email"
    assert target_kind("tgram://123:SECRET/456") == "apprise: tgram"
    assert target_kind("${SLACK_URL}") == "apprise"


def test_counts_by_source_and_month_read_as_the_totals_do() -> None:
    html = (
        templates()
        .get_template("_facets.html")
        .render(
            by_source=[("KCNA.kp (En)", 126913, "/?source=x"), ("<b>", 7, None)],
            by_month=[("2026-11", 1525, None)],
        )
    )
    assert '>KCNA.kp (En)</a> <span class="n">126,913</span>' in html
    assert '&lt;b&gt; <span class="n">7</span>' in html
    assert '2026-11 <span class="n">1,525</span>' in html
