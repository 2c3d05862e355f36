"""Turning HTML elements into clean article text.

KCNA wraps leader names in ``<nobr><span class='fSpecCs'>...</span></nobr>``. Joining the
*stripped* text nodes glues words together ("ComradeKim Jong Uninvited"); here the text nodes
are joined as they are, so the spaces around inline markup survive, and only then is the
whitespace normalised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from parsel import Selector

from .dates import MONTH_PATTERN

END_MARKER = "-0-"

_SKIPPED_TAGS = {"script", "style", "noscript", "template"}
_BREAK_TAGS = {"br", "hr"}
_SPACES = re.compile(r"\s+")
#: ``www.kcna.kp (Juche112.12.4.)`` or ``www.kcna.kp (2025.12.14.)``.
STAMP_RE = re.compile(
    r"(?:https?://)?www\.kcna\.kp\s*\(\s*(?:Juche\s*)?\d{1,4}\.\d{1,2}\.\d{1,2}\.?\s*\)",
    re.IGNORECASE,
)
_END_RE = re.compile(r"\s*-0-\s*$")
_DATELINE_RE = re.compile(
    rf"^(?P<dateline>[A-Z][^,()\n]{{1,40}},\s+{MONTH_PATTERN}\s+\d{{1,2}}\s+\(KCNA\))"
    r"\s*(?:--|\u2013|\u2014)\s*"
)


def clean(text: str) -> str:
    """Collapse every run of whitespace (``&nbsp;`` included) into one space, and strip."""
    return _SPACES.sub(" ", text.replace("\xa0", " ")).strip()


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
    root = node.root if isinstance(node, Selector) else node
    if isinstance(root, str):
        return clean(root)
    if not isinstance(root.tag, str) or root.tag.lower() in _SKIPPED_TAGS:
        return ""
    parts: list[str] = [root.text or ""]
    for child in root:
        _collect(child, parts)
    return clean("".join(parts))


def strip_stamp(text: str) -> str:
    """Remove any ``www.kcna.kp (Juche112.12.4.)`` stamp from a paragraph."""
    return clean(STAMP_RE.sub(" ", text))


def clean_paragraphs(paragraphs: Iterable[str]) -> list[str]:
    """Normalise paragraphs: drop empty ones and stamps, and remove the ``-0-`` end marker."""
    result = [strip_stamp(clean(p)) for p in paragraphs]
    result = [p for p in result if p]
    while result:
        last = _END_RE.sub("", result[-1])
        if last:
            result[-1] = last
            break
        result.pop()  # the marker stood alone in its paragraph
    return [p for p in result if p != END_MARKER]


def paragraphs_of(nodes: Iterable[Selector]) -> list[str]:
    """The clean paragraphs of a run of ``<p>`` (or similar) elements."""
    return clean_paragraphs(inline_text(node) for node in nodes)


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    """Paragraphs as the record's ``text``: one per line."""
    return "\n".join(paragraphs)


def find_dateline(first_paragraph: str) -> str | None:
    """``"Pyongyang, December 4 (KCNA) -- The..."`` -> ``"Pyongyang, December 4 (KCNA)"``."""
    match = _DATELINE_RE.match(clean(first_paragraph))
    return match.group("dateline") if match else None


def parse_html(body: bytes | str) -> Selector:
    """A selector over a page; bytes are read as UTF-8 (the sources' encoding)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return Selector(text=text, type="html")


def has_stamp(text: str) -> bool:
    """Whether ``text`` holds a kcna.kp page stamp."""
    return STAMP_RE.search(text) is not None


def kcna_category(page: Selector) -> str | None:
    """``<title>KCNA | Home News</title>`` -> ``"Home News"`` [guess]."""
    head = clean(page.xpath("string(//title)").get(""))
    parts = [p.strip() for p in head.split("|")]
    if len(parts) < 2 or parts[0] != "KCNA" or not parts[-1]:
        return None
    return parts[-1]
