"""``/articles/ID``: one article as stored, its versions compared word by word, its events.

``ID`` is an article id or a prefix of one (at least four hex digits) that only one article
has; a prefix several articles share is a 400 page listing them, an id no article has a 404.
Reached from a search (``?q=``), the query's words are marked in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from scheduler.web.context import context_of
from scheduler.web.markup import highlight, query_pattern
from scheduler.web.pages.common import error_page, render
from scheduler.wordiff import Paragraph, Segment, paragraphs_of, title_diff, word_diff
from storage.errors import AmbiguousId
from storage.records import ArticleView, VersionView

#: Unchanged paragraphs shown around a change in a comparison; longer runs are folded.
CONTEXT_PARAGRAPHS = 1


@dataclass(frozen=True)
class Comparison:
    """A version next to the one before it: its title's and its paragraphs' changes.

    ``paragraphs`` holds the paragraphs to show; None stands for a run of unchanged
    paragraphs folded away, with their number in ``folded`` at the same position.
    """

    version: VersionView
    previous: VersionView
    title: list[Segment]
    paragraphs: list[Paragraph | None]
    folded: list[int]
    dateline_changed: bool


def article_page(request: Request) -> Response:
    context = context_of(request)
    wanted = request.path_params["article_id"]
    try:
        article = context.repo.articles.get(wanted)
    except AmbiguousId as error:
        return error_page(request, 400, str(error), candidates=error.matches)
    if article is None:
        raise HTTPException(404, f"no article with id {wanted!r}")
    q = " ".join(request.query_params.get("q", "").split())[:500]
    pattern = query_pattern(q) if q else None
    return render(
        request,
        "article.html",
        q=q,
        article=article,
        title_html=highlight(article.title, pattern),
        paragraphs=_marked_paragraphs(article, pattern),
        comparisons=comparisons(article.history),
        first=min(article.history, key=lambda v: v.number, default=None),
        paragraphs_of=paragraphs_of,
        events=context.repo.articles.events_of(article.id),
    )


def _marked_paragraphs(article: ArticleView, pattern: re.Pattern[str] | None) -> list[Markup]:
    """The text's paragraphs (one ``<p>`` each), with the query's words marked."""
    return [highlight(p, pattern) for p in paragraphs_of(article.text) if p.strip()]


def comparisons(history: list[VersionView]) -> list[Comparison]:
    """Each version after the first compared with the one before, newest first."""
    ordered = sorted(history, key=lambda v: v.number)
    return [compare(previous, version) for previous, version in pairwise(ordered)][::-1]


def compare(previous: VersionView, version: VersionView) -> Comparison:
    """``version`` against ``previous``: changed words marked, long unchanged runs folded."""
    shown, folded = fold(word_diff(previous.text, version.text))
    return Comparison(
        version=version,
        previous=previous,
        title=title_diff(previous.title, version.title),
        paragraphs=shown,
        folded=folded,
        dateline_changed=previous.dateline != version.dateline,
    )


def fold(paragraphs: list[Paragraph]) -> tuple[list[Paragraph | None], list[int]]:
    """``paragraphs`` with every run of two or more unchanged ones farther than
    :data:`CONTEXT_PARAGRAPHS` from a change replaced by one None, and the number of
    paragraphs each None stands for (0 elsewhere)."""
    near = {
        i + d
        for i, p in enumerate(paragraphs)
        if p.kind != "same"
        for d in range(-CONTEXT_PARAGRAPHS, CONTEXT_PARAGRAPHS + 1)
    }
    shown: list[Paragraph | None] = []
    folded: list[int] = []
    run: list[Paragraph] = []
    for index, paragraph in enumerate([*paragraphs, None]):
        if paragraph is not None and paragraph.kind == "same" and index not in near:
            run.append(paragraph)
            continue
        if len(run) > 1:
            shown.append(None)
            folded.append(len(run))
        else:
            shown += run
            folded += [0] * len(run)
        run = []
        if paragraph is not None:
            shown.append(paragraph)
            folded.append(0)
    return shown, folded
