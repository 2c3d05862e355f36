"""Turning HTML elements into clean article text.

KCNA wraps leader names in ``<nobr><span class='fSpecCs'>...</span></nobr>``. Joining the
*stripped* text nodes glues words together ("ComradeKim Jong Uninvited"); here the text nodes
are joined as they are, so the spaces around inline markup survive, and only then is the
whitespace normalised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from parsel import Selector

from .dates import MONTH_PATTERN
from .query import element, parse_tree, xpath

END_MARKER = "-0-"

_SKIPPED_TAGS = {"script", "style", "noscript", "template"}
_BREAK_TAGS = {"br", "hr"}
#: ``www.kcna.kp (Juche112.12.4.)`` or ``www.kcna.kp (2025.12.14.)``.
STAMP_RE = re.compile(
    r"(?:https?://)?www\.kcna\.kp\s*\(\s*(?:Juche\s*\d{1,4}(?:\s*\(\s*\d{4}\s*\))?|\d{1,4})"
    r"\.\d{1,2}\.\d{1,2}\.?\s*\)",
    re.IGNORECASE,
)
_STAMP_HOST = "www.kcna.kp"
_TITLE_TEXT = xpath("string(//title)")
_END_RE = re.compile(r"\s*-0-\s*$")
_DATELINE_RE = re.compile(
    rf"^(?P<dateline>[A-Z][^,()\n]{{1,40}},\s+{MONTH_PATTERN}\s+\d{{1,2}}\s+\(KCNA\))"
    r"\s*(?:--|\u2013|\u2014)\s*"
)


#: The C0 and C1 control characters (and DEL) that are not whitespace: terminal escapes
#: (``\x1b``), bells, backspaces. Whitespace controls (tab, newline, CR, ``\x85``...) are
#: whitespace to :func:`clean`, which turns them into spaces.
CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
#: Terminal escape sequences whole: CSI (``ESC [ 31 m``) and short, terminated OSC
#: (``ESC ] 0;title BEL``). An escape character starting neither only loses itself.
_ESCAPE_RE = re.compile(
    "\x1b\\[[0-?]{0,32}[ -/]{0,4}[@-~]|\x1b\\][^\x07\x1b]{0,256}(?:\x07|\x1b\\\\)"
)


def clean(text: str) -> str:
    """Collapse every run of whitespace (``&nbsp;`` included) into one space, drop terminal
    escape sequences and control characters (:data:`CONTROL_RE`), and strip.

    ``str.split()`` splits on exactly what ``\\s`` matches in a ``str`` pattern (every
    character for which ``str.isspace()`` holds, NBSP and the other Unicode spaces included).
    """
    text = text.replace("\xa0", " ")
    # The plain space is the only printable whitespace: a printable text without double,
    # leading or trailing spaces is clean already (most paragraphs, once NBSPs are spaces).
    if text.isprintable():
        if "  " not in text and text[:1] != " " and text[-1:] != " ":
            return text
    else:  # control characters are not printable
        if "\x1b" in text:
            text = _ESCAPE_RE.sub("", text)
        text = CONTROL_RE.sub("", text)
    return " ".join(text.split())


def title_key(title: str) -> str:
    """What a title says, to compare a listing's title of an article with the stored one:
    NFKC, case-folded, punctuation as spaces, words joined by single spaces."""
    text = unicodedata.normalize("NFKC", clean(title)).casefold()
    words = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    return " ".join(words.split())


def _collect(element: Any, parts: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else None
    if tag is not None:
        local = tag.rsplit("}", 1)[-1].lower()
        if local in _BREAK_TAGS:
            parts.append(" ")
        elif local not in _SKIPPED_TAGS:
            parts.append(element.text or "")
            for child in element:
                _collect(child, parts)
    if element.tail:
        parts.append(element.tail)


def inline_text(node: Selector | Any) -> str:
    """The text of one element with inline markup flattened and whitespace normalised."""
    root = element(node)
    if isinstance(root, str):
        return clean(root)
    if not isinstance(root.tag, str) or root.tag.lower() in _SKIPPED_TAGS:
        return ""
    if not len(root):  # no inline markup (most paragraphs)
        return clean(root.text or "")
    parts: list[str] = [root.text or ""]
    for child in root:
        _collect(child, parts)
    return clean("".join(parts))


def _without_stamp(text: str) -> str:
    """A clean paragraph without any ``www.kcna.kp (Juche112.12.4.)`` stamp."""
    return clean(STAMP_RE.sub(" ", text)) if has_stamp(text) else text


def finish_paragraphs(paragraphs: Iterable[str]) -> list[str]:
    """Clean paragraphs (:func:`clean`'s, :func:`inline_text`'s) finished: empty ones and
    stamps dropped, the ``-0-`` end marker removed."""
    result = [p for p in map(_without_stamp, paragraphs) if p]
    while result:
        last = _END_RE.sub("", result[-1])
        if last:
            result[-1] = last
            break
        result.pop()  # the marker stood alone in its paragraph
    return [p for p in result if p != END_MARKER]


def paragraphs_of(nodes: Iterable[Selector | Any]) -> list[str]:
    """The clean paragraphs of a run of ``<p>`` (or similar) elements."""
    return finish_paragraphs(inline_text(node) for node in nodes)


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    """Paragraphs as the record's ``text``: one per line."""
    return "\n".join(paragraphs)


def find_dateline(first_paragraph: str) -> str | None:
    """``"Pyongyang, December 4 (KCNA) -- The..."`` -> ``"Pyongyang, December 4 (KCNA)"``."""
    match = _DATELINE_RE.match(clean(first_paragraph))
    return match.group("dateline") if match else None


def parse_html(body: bytes | str | Selector) -> Selector:
    """A selector over a page; bytes are read as UTF-8 (the sources' encoding).

    A page already parsed (a :class:`Selector`) is returned as it is, so that a page is parsed
    once however many readers look at it.
    """
    if isinstance(body, Selector):
        return body
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return Selector(root=parse_tree(text), type="html")


def has_stamp(text: str) -> bool:
    """Whether ``text`` holds a kcna.kp page stamp."""
    # Every stamp holds "(" and "www.kcna.kp" in some letter case (lower() also maps the Kelvin
    # sign, which IGNORECASE matches as "k"): substring tests spare most paragraphs the regex.
    return "(" in text and _STAMP_HOST in text.lower() and STAMP_RE.search(text) is not None


def page_title(page: Selector | Any) -> str:
    """The clean text of the page's ``<title>``; ``page`` is a selector or any element of it."""
    return clean(_TITLE_TEXT(element(page)))


def kcna_category(page: Selector | Any) -> str | None:
    """``<title>KCNA | Home News</title>`` -> ``"Home News"`` [guess]."""
    head = page_title(page)
    parts = [p.strip() for p in head.split("|")]
    if len(parts) < 2 or parts[0] != "KCNA" or not parts[-1]:
        return None
    return parts[-1]
