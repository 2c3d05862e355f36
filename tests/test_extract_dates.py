"""Date formats of the sources (crawler/extract/dates.py)."""

from __future__ import annotations

from datetime import date

import pytest

from crawler.extract.dates import (
    infer_from_dateline,
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
    ],
)
def test_parse_month_name(text: str, expected: date | None) -> None:
    assert parse_month_name(text) == expected


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
