"""Date formats of the sources.

- kcna.kp page stamps ``(Juche112.12.4.)`` and, from late 2024, ``(2025.12.14.)``;
- kcna.kp listing dates ``[2026.7.19.]`` (with or without brackets);
- KCNA Watch meta lines ``04/12/2023`` (day first);
- KCNA Watch listings ``Feb 12, 2026`` or ``February 12, 2026``;
- Rodong Sinmun's ``Mar. 10, Juche 111 (2022) Thursday``;
- datelines ``Pyongyang, December 4 (KCNA)``, which carry no year.

Reading is lenient about spelling and strict about content. A regular expression finds a
date-shaped span holding a day, a month and a four-digit (or Juche) year; numbers written year
first are read as they stand, and python-dateutil reads the other spans (month names and their
abbreviations, ordinals such as ``12th``, day-first numbers on day-first sites). A Juche year
becomes Gregorian first: ``Juche 113``, ``Juche 113 (2024)`` -> ``2024`` (a bracketed year that
disagrees gives no date). Full-width digits count as digits.

Every function returns ``None`` when the text holds no valid date: a part missing from the
text is never filled in. Nothing here reads the clock: the caller passes ``today`` (the
Pyongyang local date) where a year must be guessed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime

from dateutil.parser import parse, parserinfo

#: Juche year 1 is 1912.
JUCHE_OFFSET = 1911

#: Month names and abbreviations as dateutil reads them (``Sept`` included).
_MONTHS = {
    name.lower(): number
    for number, names in enumerate(parserinfo.MONTHS, start=1)
    for name in names
}
#: A month name or abbreviation (title case, as datelines write it), with an optional dot.
MONTH_PATTERN = rf"(?:{'|'.join(sorted(map(str.title, _MONTHS), key=len, reverse=True))})\.?"

_JUCHE = re.compile(r"\bJuche\s*(\d{1,4})(?:\s*\(\s*(\d{4})\s*\))?", re.IGNORECASE)
#: Year first, the same separator twice: ``2026.7.19``, ``2026-07-19``, ``2026/7/19``; a bare
#: three-digit year is a Juche year and takes dots only, as the stamps write it.
_YEAR_FIRST = re.compile(
    r"(?<![\d./-])(?:(\d{4})([./-])|(\d{3})(\.))(\d{1,2})(?:\2|\4)(\d{1,2})(?!\d)\.?"
)
#: Day first, the middle number a month (``04/12/2023``, ``4.12.2023``, ``04-12-2023``): the
#: site never writes the month first, so ``12/31/2025`` is no date rather than December 31.
_DAY_FIRST = re.compile(r"(?<![\d./-])\d{1,2}([./-])(?:0?[1-9]|1[0-2])\1\d{4}(?!\d|[./-]\d)")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
#: ``Feb 12, 2026``, ``February 12th 2026``, ``12 February 2026``, ``12th of Feb., 2026``.
_NAMED = re.compile(
    rf"\b(?:{MONTH_PATTERN}\s*{_DAY}|{_DAY}\s+(?:of\s+)?{MONTH_PATTERN})(?:,\s*|\s+)\d{{4}}(?!\d)",
    re.IGNORECASE,
)
_STAMP = re.compile(r"\(\s*(\d{1,4}\.\d{1,2}\.\d{1,2}\.?)\s*\)")
_MONTH_DAY = re.compile(rf"\b({MONTH_PATTERN})\s+(\d{{1,2}})\b", re.IGNORECASE)
#: Two defaults that differ in year, month and day: see :func:`_read`.
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))
#: What may surround the date in a text that holds nothing else (:func:`parse_date_only`).
_FRAME = " \t\n[]()."


def month_number(name: str) -> int | None:
    """``"December"``, ``"Dec"`` or ``"Dec."`` -> 12; anything else -> None."""
    return _MONTHS.get(name.strip().rstrip(".").lower())


def juche_year(year: int) -> int:
    """A stamp year as a Gregorian year: Juche years (below 1000) get 1911 added."""
    return year + JUCHE_OFFSET if year < 1000 else year


def _gregorian_year(match: re.Match[str]) -> str:
    year = juche_year(int(match.group(1)))
    bracketed = match.group(2)
    return str(year) if bracketed is None or int(bracketed) == year else "?"


def _normalise(text: str) -> str:
    """``text`` with ASCII digits and spaces (NFKC) and Gregorian years for Juche years."""
    return _JUCHE.sub(_gregorian_year, unicodedata.normalize("NFKC", text))


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _read(span: str, *, dayfirst: bool) -> date | None:
    """dateutil's reading of a date-shaped ``span``, or None.

    dateutil fills a part the text lacks from its ``default`` and would invent a day or a
    year: two readings with defaults that differ in every part agree only when the text gave
    all three.
    """
    try:
        first, second = (parse(span, dayfirst=dayfirst, default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
        return None
    return first.date() if first == second else None


def _year_first(match: re.Match[str]) -> date | None:
    year = juche_year(int(match.group(1) or match.group(3)))
    return _safe_date(year, int(match.group(5)), int(match.group(6)))


def _day_first(match: re.Match[str]) -> date | None:
    return _read(match.group(0), dayfirst=True)


def _named(match: re.Match[str]) -> date | None:
    return _read(match.group(0), dayfirst=False)  # the month is named: no order to guess


_Reader = tuple[re.Pattern[str], Callable[[re.Match[str]], date | None]]
#: Year-first numbers first, then day-first ones on a day-first site (elsewhere numbers not
#: led by the year are ambiguous, and refused), then month names.
_DAY_FIRST_SITE: tuple[_Reader, ...] = (
    (_YEAR_FIRST, _year_first),
    (_DAY_FIRST, _day_first),
    (_NAMED, _named),
)
_YEAR_FIRST_SITE: tuple[_Reader, ...] = ((_YEAR_FIRST, _year_first), (_NAMED, _named))


def _find(text: str, *, dayfirst: bool) -> tuple[date, str, re.Match[str]] | None:
    """The first date of ``text`` read as above, with the normalised text and its match."""
    text = _normalise(text)
    for pattern, reader in _DAY_FIRST_SITE if dayfirst else _YEAR_FIRST_SITE:
        for match in pattern.finditer(text):
            found = reader(match)
            if found is not None:
                return found, text, match
    return None


def parse_date(text: str, *, dayfirst: bool) -> date | None:
    """The first date in ``text`` in any of the spellings above.

    ``dayfirst`` for a day-first site (KCNA Watch): ``04/12/2023`` is 4 December. Without it,
    numbers not led by the year give no date.
    """
    found = _find(text, dayfirst=dayfirst)
    return found[0] if found else None


def parse_date_only(text: str, *, dayfirst: bool) -> date | None:
    """:func:`parse_date` for a text that holds nothing but the date.

    Brackets and a trailing dot may frame it: ``[2026.7.19.]``, ``[July 19, 2026]``. A text
    holding more (a name, a title) gives None.
    """
    found = _find(text, dayfirst=dayfirst)
    if found is None:
        return None
    day, normalised, match = found
    before, after = normalised[: match.start()], normalised[match.end() :]
    return day if not before.strip(_FRAME) and not after.strip(_FRAME) else None


def parse_dotted(text: str) -> date | None:
    """The first year-first date in ``text``: ``2026.7.19.``, ``[2026.7.19.]``, ``Juche112.12.4.``,
    ``Juche 113 (2024).5.1.``, ``2026-07-19``.

    A year below 1000 is a Juche year.
    """
    match = _YEAR_FIRST.search(_normalise(text))
    return _year_first(match) if match else None


def parse_stamp(text: str) -> date | None:
    """The date of a page stamp ``www.kcna.kp (Juche112.12.4.)`` or ``(2025.12.14.)``."""
    match = _STAMP.search(_normalise(text))
    return parse_dotted(match.group(1)) if match else None


def parse_dmy(text: str) -> date | None:
    """A date on a day-first site, as on KCNA Watch meta lines (``04/12/2023`` is 4 December).

    Also ``4.12.2023``, ``4 December 2023``, ``December 4, 2023`` and ``2023-12-04``.
    """
    return parse_date(text, dayfirst=True)


def parse_month_name(text: str) -> date | None:
    """A date with the month's name: ``Feb 12, 2026``, ``February 12th, 2026``, ``12 Feb. 2026``,
    ``Friday September 11, 2026``."""
    return next(filter(None, map(_named, _NAMED.finditer(_normalise(text)))), None)


def infer_from_dateline(dateline: str, today: date) -> date | None:
    """The date of a dateline such as ``Pyongyang, December 4 (KCNA)``.

    The dateline has no year: take ``today``'s year, or the year before when that date would
    lie in the future. February 29 falls back to the last leap year not after ``today``.
    """
    match = _MONTH_DAY.search(dateline)
    if not match:
        return None
    month = month_number(match.group(1))
    day = int(match.group(2))
    if month is None:
        return None
    for year in range(today.year, today.year - 8, -1):
        found = _safe_date(year, month, day)
        if found is not None and found <= today:
            return found
    return None
