"""The crawl plan: one typed value in one setting, a one-line error for a bad one."""

from __future__ import annotations

import re
from datetime import date

import pytest

from crawler.plan import CrawlPlan, PlanError


@pytest.mark.parametrize(
    "plan",
    [
        CrawlPlan(),
        CrawlPlan("refetch"),
        CrawlPlan("backfill", since=date(2026, 1, 1)),
        CrawlPlan("recheck", since=date(2025, 3, 1), until=date(2025, 5, 31), ids=("3f2a",)),
    ],
)
def test_a_plan_survives_its_setting(plan: CrawlPlan) -> None:
    assert CrawlPlan.parse(plan.to_setting()) == plan
    assert CrawlPlan.from_settings({"KCNA_MONITOR_PLAN": plan.to_setting()}) == plan
    assert CrawlPlan.from_settings({"KCNA_MONITOR_PLAN": plan}) is plan


def test_a_kind_alone_and_nothing_at_all() -> None:
    assert CrawlPlan.parse("refetch") == CrawlPlan("refetch")
    assert CrawlPlan.parse("") == CrawlPlan.parse(None) == CrawlPlan()
    assert CrawlPlan(ids=()).kind == "crawl"
    assert CrawlPlan("recheck", ids=(" 3F2A ", "")).ids == ("3f2a",)


def test_what_each_kind_means() -> None:
    kinds = [CrawlPlan(k) for k in ("crawl", "refetch", "backfill", "recheck")]
    assert [p.uses_archive for p in kinds] == [True, False, True, True]
    assert [p.conditional for p in kinds] == [True, False, False, True]
    assert [p.stops_at_known for p in kinds] == [True, False, False, False]
    assert [p.reads_listings for p in kinds] == [True, True, True, False]
    assert [p.run_kind for p in kinds] == ["crawl", "crawl", "backfill", "recheck"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("sideways", "KCNA_MONITOR_PLAN: not a crawl plan"),
        ('{"kind": "sideways"}', "KCNA_MONITOR_PLAN: unknown kind 'sideways'"),
        ('{"kind": "recheck", "from": "2025-01-01"}', "KCNA_MONITOR_PLAN: unknown key 'from'"),
        ('{"kind": "backfill", "since": "1 May"}', "since must be a date (YYYY-MM-DD)"),
        ('{"kind": "backfill", "until": "2025-01-01"}', "until and ids are for a recheck"),
        ('{"kind": "crawl", "since": "2025-01-01"}', "since is for a backfill or a recheck"),
        ('{"kind": "recheck", "ids": 7}', "ids must be a list of article ids"),
        (
            '{"kind": "recheck", "since": "2025-06-01", "until": "2025-05-01"}',
            "since 2025-06-01 is after until 2025-05-01",
        ),
    ],
)
def test_a_bad_plan_is_one_line_naming_the_setting(value: str, message: str) -> None:
    with pytest.raises(PlanError, match=re.escape(message)) as raised:
        CrawlPlan.parse(value)
    assert "\n" not in str(raised.value)


def test_a_retired_mode_setting_says_what_replaces_it() -> None:
    with pytest.raises(PlanError, match="KCNA_MONITOR_INCREMENTAL is no longer read: set KCNA"):
        CrawlPlan.from_settings({"KCNA_MONITOR_INCREMENTAL": "false"})
