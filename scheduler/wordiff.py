"""Word-level differences between two versions of an article, for a reader's eyes.

A stored text is paragraphs separated by ``"\\n"``. :func:`word_diff` aligns the paragraphs
first (a paragraph that stayed is one ``same`` segment, a wholly inserted or deleted one a
single ``ins`` or ``del`` segment), then compares the words of each pair of paragraphs that
replaced one another, so an edit shows as the few words it changed, not as two paragraphs.

A word is a run of non-space characters with its punctuation (``peace,``); the whitespace
between words is kept, so joining the ``same`` and ``del`` segments of a paragraph gives the
old paragraph back exactly, and ``same`` and ``ins`` the new one. Nothing here escapes
markup: the caller renders the segments (article text is hostile input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

#: What happened to a segment of text: kept, inserted (only in the new), deleted (only in
#: the old).
Op = Literal["same", "ins", "del"]
Segment = tuple[Op, str]
#: What happened to a paragraph: kept as it was, changed in place, inserted, deleted.
ParagraphKind = Literal["same", "changed", "ins", "del"]

_TOKENS = re.compile(r"\s+|\S+")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the comparison, as segments in reading order."""

    kind: ParagraphKind
    segments: tuple[Segment, ...]

    @property
    def old(self) -> str | None:
        """The paragraph as it was (None: it was inserted)."""
        if self.kind == "ins":
            return None
        return "".join(text for op, text in self.segments if op != "ins")

    @property
    def new(self) -> str | None:
        """The paragraph as it is now (None: it was deleted)."""
        if self.kind == "del":
            return None
        return "".join(text for op, text in self.segments if op != "del")


def paragraphs_of(text: str) -> list[str]:
    """The paragraphs of a stored text (none in an empty text)."""
    return text.split("\n") if text else []


def word_diff(old: str, new: str) -> list[Paragraph]:
    """The paragraphs of ``old`` and ``new`` aligned, each with its word-level changes."""
    before, after = paragraphs_of(old), paragraphs_of(new)
    result: list[Paragraph] = []
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            result += [Paragraph("same", _whole("same", p)) for p in before[i1:i2]]
            continue
        olds, news = before[i1:i2], after[j1:j2]
        paired = min(len(olds), len(news))
        for was, now in zip(olds[:paired], news[:paired], strict=True):
            result.append(Paragraph("changed", tuple(title_diff(was, now))))
        result += [Paragraph("del", _whole("del", p)) for p in olds[paired:]]
        result += [Paragraph("ins", _whole("ins", p)) for p in news[paired:]]
    return result


def title_diff(old: str, new: str) -> list[Segment]:
    """The word-level changes from ``old`` to ``new``, one line of text (a title)."""
    before, after = _TOKENS.findall(old), _TOKENS.findall(new)
    segments: list[Segment] = []
    deleted: list[str] = []
    inserted: list[str] = []
    held: list[str] = []  # spaces kept between two changes: shown inside the change
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            deleted += held + before[i1:i2]
            inserted += held + after[j1:j2]
            held = []
            continue
        kept = before[i1:i2]
        if (deleted or inserted) and "".join(kept).isspace():
            held = kept
            continue
        _flush(segments, deleted, inserted)
        deleted, inserted = [], []
        segments.append(("same", "".join(kept)))
    _flush(segments, deleted, inserted)
    if held:
        segments.append(("same", "".join(held)))
    return _merged(segments)


def _whole(op: Op, paragraph: str) -> tuple[Segment, ...]:
    return ((op, paragraph),) if paragraph else ()


def _flush(segments: list[Segment], deleted: list[str], inserted: list[str]) -> None:
    """A change as its deleted words, then its inserted words."""
    if deleted:
        segments.append(("del", "".join(deleted)))
    if inserted:
        segments.append(("ins", "".join(inserted)))


def _merged(segments: list[Segment]) -> list[Segment]:
    """``segments`` without empty ones, neighbours with the same op joined."""
    merged: list[Segment] = []
    for op, text in segments:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged
