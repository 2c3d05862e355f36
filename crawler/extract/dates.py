"""Date formats of the sources.

- kcna.kp page stamps ``(Juche112.12.4.)`` and, from late 2024, ``(2025.12.14.)``;
- kcna.kp listing dates ``[2026.7.19.]`` (with or without brackets);
- KCNA Watch meta lines ``04/12/2023`` (day first);
- KCNA Watch listings ``Feb 12, 2026`` or ``February 12, 2026``;
- datelines ``Pyongyang, December 4 (KCNA)``, which carry no year.

Every function returns ``None`` when the text holds no valid date. Nothing here reads the
clock: the caller passes ``today`` (the Pyongyang local date) where a year must be guessed.
"""

from __future__ import annotations

import re
from datetime import date

#: Juche year 1 is 1912.
JUCHE_OFFSET = 1911

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
MONTH_PATTERN = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)

_DOTTED = re.compile(r"(?<![\d.])(?:Juche\s*)?(\d{1,4})\.(\d{1,2})\.(\d{1,2})(?![\d])\.?")
_STAMP = re.compile(r"\(\s*((?:Juche\s*)?\d{1,4}\.\d{1,2}\.\d{1,2}\.?)\s*\)")
_DMY = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_MONTH_DAY_YEAR = re.compile(rf"\b({MONTH_PATTERN})\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.IGNORECASE)
_MONTH_DAY = re.compile(rf"\b({MONTH_PATTERN})\s+(\d{{1,2}})\b", re.IGNORECASE)


def month_number(name: str) -> int | None:
    """``"December"``, ``"Dec"`` or ``"Dec."`` -> 12; anything else -> None."""
    return _MONTHS.get(name.strip().rstrip(".").lower())


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def juche_year(year: int) -> int:
    """A stamp year as a Gregorian year: Juche years (below 1000) get 1911 added."""
    return year + JUCHE_OFFSET if year < 1000 else year


def parse_dotted(text: str) -> date | None:
    """The first ``Y.M.D.`` date in ``text``: ``2026.7.19.``, ``[2026.7.19.]``, ``Juche112.12.4.``.

    A year below 1000 is a Juche year.
    """
    match = _DOTTED.search(text)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    return _safe_date(juche_year(year), month, day)


def parse_stamp(text: str) -> date | None:
    """The date of a page stamp ``www.kcna.kp (Juche112.12.4.)`` or ``(2025.12.14.)``."""
    match = _STAMP.search(text)
    return parse_dotted(match.group(1)) if match else None


def parse_dmy(text: str) -> date | None:
    """A day-first ``DD/MM/YYYY`` date, as on KCNA Watch meta lines (``04/12/2023``)."""
    match = _DMY.search(text)
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    return _safe_date(year, month, day)


def parse_month_name(text: str) -> date | None:
    """``Feb 12, 2026``, ``February 12, 2026`` or ``Friday September 11, 2026``."""
    match = _MONTH_DAY_YEAR.search(text)
    if not match:
        return None
    month = month_number(match.group(1))
    return _safe_date(int(match.group(3)), month, int(match.group(2))) if month else None


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
