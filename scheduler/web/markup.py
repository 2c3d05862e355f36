"""HTML for hostile text with marks of our own: search snippets with their hits marked
(:func:`snippet_html`) and an article's text with a query's words marked (:func:`highlight`).

Stored titles and texts come from the sites crawled and are treated as hostile: every piece of
them is escaped first, and only then are ``<mark>`` elements put around the hits, so the
:class:`markupsafe.Markup` returned here is the only HTML a page shows unescaped.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from storage.fulltext import HIT_END, HIT_START
from storage.search import Phrase, QueryError, Term, parse

_MARKS = re.compile(f"[{HIT_START}{HIT_END}]")
#: Endings taken off a query word before highlighting, so that "missiles" also marks
#: "missile" (the index stems words; this is a rough likeness of it for the eye).
_ENDINGS = ("ing", "ed", "es", "s")
_ENDING = r"(?:e?s|e?d|ing|e)?\b"
_OPEN, _CLOSE = Markup("<mark>"), Markup("</mark>")


def snippet_html(snippet: str) -> Markup:
    """``snippet`` escaped, its hits (between :data:`HIT_START` and :data:`HIT_END`) in
    ``<mark>``; a hit left open at the end is closed, a stray end mark dropped."""
    html = Markup()
    inside = False
    position = 0
    for found in _MARKS.finditer(snippet):
        html += escape(snippet[position : found.start()])
        position = found.end()
        opens = found.group() == HIT_START
        if opens != inside:
            html += _OPEN if opens else _CLOSE
            inside = opens
    html += escape(snippet[position:])
    return html + _CLOSE if inside else html


def _stem(word: str) -> str:
    lowered = word.lower()
    for ending in _ENDINGS:
        if lowered.endswith(ending) and len(lowered) - len(ending) >= 3:
            return lowered[: -len(ending)]
    return lowered


def _atom_pattern(atom: Term | Phrase) -> str:
    """A pattern of ``atom``'s words in a text: a phrase's words in order, a prefix's words
    that start with it, a word with a plural or past ending or none."""
    if isinstance(atom, Phrase):
        words = re.findall(r"[^\W_]+", atom.text)
        end = r"\b"
    else:
        words = re.findall(r"[^\W_]+", atom.text if atom.prefix else _stem(atom.text))
        end = r"\w*" if atom.prefix else _ENDING
    if not words:
        return ""
    return r"\b" + r"\W+".join(re.escape(w) for w in words) + end


def query_pattern(query: str) -> re.Pattern[str] | None:
    """A case-insensitive pattern of the words and phrases ``query`` asks for (not those it
    excludes); None for a query that asks for nothing or cannot be read."""
    try:
        parsed = parse(query)
    except QueryError:
        return None
    atoms: list[Term | Phrase] = []
    for clause in parsed.required:
        atoms += list(clause.options) if not isinstance(clause, Term | Phrase) else [clause]
    patterns = sorted({p for p in map(_atom_pattern, atoms) if p}, key=len, reverse=True)
    if not patterns:
        return None
    return re.compile("|".join(patterns), re.IGNORECASE)


def highlight(text: str, pattern: re.Pattern[str] | None) -> Markup:
    """``text`` escaped, with what ``pattern`` matches in ``<mark>`` (no pattern: no marks)."""
    if pattern is None:
        return Markup(escape(text))
    html = Markup()
    position = 0
    for found in pattern.finditer(text):
        if found.end() == found.start():
            continue
        html += escape(text[position : found.start()]) + _OPEN + escape(found.group()) + _CLOSE
        position = found.end()
    return html + escape(text[position:])
