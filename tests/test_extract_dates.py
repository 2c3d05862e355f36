"""Date formats of the sources (crawler/extract/dates.py)."""

from __future__ import annotations

from datetime import date

import pytest

from crawler.extract import dates
from crawler.extract.dates import (
    infer_from_dateline,
    parse_date,
    parse_date_only,
    parse_dmy,
    parse_dotted,
    parse_month_name,
    parse_stamp,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("www.kcna.kp (Juche112.12.4.)", date(2023, 12, 4)),
        ("www.kcna.kp (Juche113.1.12.)", date(2024, 1, 12)),
        ("www.kcna.kp (2025.12.14.)", date(2025, 12, 14)),
        ("www.kcna.kp ( Juche 114.3.1 )", date(2025, 3, 1)),
        ("www.kcna.kp (Juche112.2.30.)", None),  # no such day
        ("www.kcna.kp (Juche 113 (2024).5.1.)", date(2024, 5, 1)),  # Gregorian year in brackets
        ("www.kcna.kp (Juche 112 (2024).5.1.)", None),  # the two years disagree
        ("www.kcna.kp (\uff12\uff10\uff12\uff15.12.14.)", date(2025, 12, 14)),  # full-width
        ("www.kcna.kp", None),
        ("", None),
    ],
)
def test_parse_stamp(text: str, expected: date | None) -> None:
    assert parse_stamp(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[2026.7.19.]", date(2026, 7, 19)),
        ("2026.7.19.", date(2026, 7, 19)),
        ("[2024.02.11.]", date(2024, 2, 11)),
        ("[Juche113.7.23.]", date(2024, 7, 23)),
        ("Title\n[Juche113.1.17.]", date(2024, 1, 17)),
        ("[2026.13.1.]", None),
        ("no date", None),
        ("[2026.7.19]", date(2026, 7, 19)),  # no trailing dot
        ("[2026-07-19]", date(2026, 7, 19)),
        ("2026/7/19", date(2026, 7, 19)),
        ("2026.7-19", None),  # mixed separators
        ("Juche 113 (2024).5.1.", date(2024, 5, 1)),
        ("[Juche 113.7.23.]", date(2024, 7, 23)),
        ("\uff12\uff10\uff12\uff16.\uff17.\uff11\uff19", date(2026, 7, 19)),  # full-width
        ("4.12.23", None),  # a two-digit year is no Juche year: no 1915
        ("version 1.2.3", None),
    ],
)
def test_parse_dotted(text: str, expected: date | None) -> None:
    assert parse_dotted(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date: 04/12/2023 | Source: KCNA.kp (En)", date(2023, 12, 4)),  # day first
        ("12/04/2023", date(2023, 4, 12)),
        ("31/12/2025", date(2025, 12, 31)),
        ("12/31/2025", None),  # month first is not the format
        ("Date: ", None),
        ("Date: 04/12/2023.", date(2023, 12, 4)),
        ("4/12/2023", date(2023, 12, 4)),
        ("04.12.2023", date(2023, 12, 4)),
        ("04-12-2023", date(2023, 12, 4)),
        ("2023-12-04", date(2023, 12, 4)),  # year first is ISO, not dateutil's 12 April
        ("2023/12/04", date(2023, 12, 4)),
        ("Date: 4 December 2023 | Source: KCNA.kp (En)", date(2023, 12, 4)),
        ("December 4th, 2023", date(2023, 12, 4)),
        ("04/12/23", None),  # a two-digit year would need a guessed century
        ("31/04/2024", None),  # no such day
        ("13/13/2024", None),
        ("04/12", None),  # no year: none is invented
        ("Date: 04/12/2023 |", date(2023, 12, 4)),
    ],
)
def test_parse_dmy(text: str, expected: date | None) -> None:
    assert parse_dmy(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Feb 12, 2026", date(2026, 2, 12)),
        ("February 12, 2026", date(2026, 2, 12)),
        ("Sept 3, 2025", date(2025, 9, 3)),
        ("Friday September 11, 2026", date(2026, 9, 11)),
        ("One day in November 2024, the respected", None),
        ("February 30, 2026", None),
        ("Feb. 12, 2026", date(2026, 2, 12)),
        ("February 12th, 2026", date(2026, 2, 12)),
        ("February 12 2026", date(2026, 2, 12)),
        ("12 February 2026", date(2026, 2, 12)),
        ("12th of Feb., 2026", date(2026, 2, 12)),
        ("Thursday, 12 February, 2026", date(2026, 2, 12)),
        ("feb 12, 2026", date(2026, 2, 12)),
        ("Mar. 10, Juche 111 (2022) Thursday", date(2022, 3, 10)),  # Rodong Sinmun
        ("Mar. 10, Juche 111 Thursday", date(2022, 3, 10)),
        ("Mar. 10, Juche 112 (2022) Thursday", None),  # the two years disagree
        ("In November 2024, 12 factories", None),  # no day next to the month
        ("Pyongyang, February 12 (KCNA) --", None),  # no year
        ("May 2024", None),
        ("Decimal 12, 2026", None),
        ("12/02/2026", None),  # numbers only: not a month name
    ],
)
def test_parse_month_name(text: str, expected: date | None) -> None:
    assert parse_month_name(text) == expected


@pytest.mark.parametrize(
    ("text", "dayfirst", "expected"),
    [
        ("[2026.7.19.]", False, date(2026, 7, 19)),
        ("[2026.7.19.]", True, date(2026, 7, 19)),  # year first on any site
        ("2026-07-19", True, date(2026, 7, 19)),
        ("July 19, 2026", False, date(2026, 7, 19)),
        ("19/07/2026", True, date(2026, 7, 19)),
        ("19/07/2026", False, None),  # numbers not led by the year on a year-first site
        ("04/05/2026", False, None),
        ("Feb 12, 2026 | KCNA.kp (En)", True, date(2026, 2, 12)),
        ("Kim Jong Un", False, None),
        ("", True, None),
    ],
)
def test_parse_date(text: str, dayfirst: bool, expected: date | None) -> None:
    assert parse_date(text, dayfirst=dayfirst) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[2026.7.19.]", date(2026, 7, 19)),
        (" [ 2026.7.19. ] ", date(2026, 7, 19)),
        ("2026-07-19", date(2026, 7, 19)),
        ("[July 19, 2026]", date(2026, 7, 19)),
        ("[Juche115.7.19.]", date(2026, 7, 19)),
        ("Kim Jong Un", None),  # a name in a title
        ("Visits [2026.7.19.]", None),  # more than the date
        ("[2026.7.19.] Visits", None),
        ("[2026.13.19.]", None),
    ],
)
def test_parse_date_only(text: str, expected: date | None) -> None:
    assert parse_date_only(text, dayfirst=False) == expected


@pytest.mark.parametrize("span", ["May 2024", "12 May", "2024", "12th", "Friday"])
def test_dateutil_never_fills_in_a_missing_part(span: str) -> None:
    """dateutil takes a missing day, month or year from its default: such a reading is refused."""
    assert dates._read(span, dayfirst=True) is None


@pytest.mark.parametrize(
    ("dateline", "today", "expected"),
    [
        ("Pyongyang, December 4 (KCNA)", date(2023, 12, 5), date(2023, 12, 4)),
        ("Pyongyang, December 4 (KCNA)", date(2023, 12, 4), date(2023, 12, 4)),  # today
        ("Pyongyang, December 30 (KCNA)", date(2026, 1, 2), date(2025, 12, 30)),  # last year
        ("Moscow, May 3 (KCNA)", date(2026, 11, 27), date(2026, 5, 3)),
        ("Pyongyang, February 29 (KCNA)", date(2026, 3, 1), date(2024, 2, 29)),  # leap day
        ("One day in May Juche 106 (2017)", date(2026, 11, 27), None),  # no day: no date
        ("no month here", date(2026, 11, 27), None),
    ],
)
def test_infer_from_dateline(dateline: str, today: date, expected: date | None) -> None:
    assert infer_from_dateline(dateline, today) == expected
