"""What the layouts share: records and entries, tokens, paragraphs as KCNA writes them, the page."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Literal

Record = Mapping[str, Any]
Entry = Sequence[Any]  # (href, title, published[, teaser])

LEADERS = ("Kim Jong Un", "Kim Il Sung", "Kim Jong Il")
#: Any of the leaders' names.
LEADER_RE = re.compile("|".join(re.escape(name) for name in LEADERS))


def token(*parts: object, length: int = 32) -> str:
    """A deterministic hex token derived from ``parts``."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return (digest * (length // 64 + 1))[:length]


def as_date(value: date | str | None) -> date | None:
    """A date given as a ``date``, an ISO string or None."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def parse_entry(entry: Entry) -> tuple[str, str, date | None, str | None]:
    """A listing entry as ``(href, title, published, teaser)``."""
    href, title, published = entry[0], entry[1], as_date(entry[2])
    teaser = entry[3] if len(entry) > 3 else None
    return href, title, published, teaser


def escape(text: str) -> str:
    """Text escaped for an element's content, a no-break space written as ``&nbsp;``."""
    return html.escape(text, quote=False).replace("\xa0", "&nbsp;")


def inline_html(
    text: str, *, wrap_names: bool = True, nbsp: bool = False, curly_quotes: bool = False
) -> str:
    """One paragraph as KCNA writes it.

    ``wrap_names`` wraps every leader name in ``<nobr><span class='fSpecCs'>``; ``nbsp`` turns
    the first ", " into ",&nbsp;"; ``curly_quotes`` turns apostrophes between letters into ’.
    A no-break space already in the text is always written as ``&nbsp;``.
    """
    if curly_quotes:
        text = re.sub(r"(?<=\w)'(?=\w)", "\u2019", text)
    out = escape(text)
    if wrap_names:
        out = LEADER_RE.sub(_wrapped_name, out)
    if nbsp:
        out = out.replace(", ", ",&nbsp;", 1)
    return out


def _wrapped_name(match: re.Match[str]) -> str:
    return f"<nobr><span class='fSpecCs'>{match.group(0)}</span></nobr>"


def paragraphs(rec: Record) -> list[str]:
    """The record's paragraphs, one per line of ``text``."""
    return [line for line in rec["text"].split("\n") if line.strip()]


def stamp_text(published: date | str, style: Literal["juche", "gregorian"]) -> str:
    """``www.kcna.kp (Juche112.12.4.)`` or ``www.kcna.kp (2023.12.4.)``."""
    day = as_date(published)
    assert day is not None
    year = f"Juche{day.year - 1911}" if style == "juche" else str(day.year)
    return f"www.kcna.kp ({year}.{day.month}.{day.day}.)"


def document(title: str, body: str, *, head_extra: str = "") -> str:
    """A whole HTML page around ``body``."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n{head_extra}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
