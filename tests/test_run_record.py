"""How a crawl's run is recorded from its stats (the stats collector), built without a crawler
but for the collector's own wiring."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from crawler import stats as keys
from crawler.spiders.kcna import KcnaSpider
from crawler.statscollectors import RunStatsCollector, run_stats, run_status
from storage.db import make_engine
from storage.records import RunStats
from storage.repository import Repository
from tests.crawl_storing import Storing
from tests.storage_helpers import T0
from tests.test_pipeline_store import item


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.db'}"


@pytest.mark.parametrize(
    ("reason", "pages", "status"),
    [
        ("finished", 12, "ok"),
        ("finished", 0, "failed"),
        ("shutdown", 3, "interrupted"),
        ("closespider_timeout", 3, "failed"),
    ],
)
def test_run_status(reason: str, pages: int, status: str) -> None:
    assert run_status(reason, pages) == status


def test_the_run_is_finished_with_its_counts_and_parse_statistics(db_url: str) -> None:
    pipeline = Storing(db_url, source="kcna")
    for name, value in [
        (keys.RESPONSES, 4),
        (keys.LISTING_PAGES, 2),
        (keys.EMPTY_LISTINGS, 1),
        (keys.PARSE_FAILURES, 1),
    ]:
        pipeline.stats.set_value(name, value)
    asyncio.run(pipeline.crawl([item(1)]))

    repo = Repository(make_engine(db_url))
    [last] = repo.runs.recent(limit=1)
    assert (last.status, last.pages, last.new) == ("ok", 4, 1)
    saved = repo.runs.stats([last.id])[last.id]
    assert saved == RunStats(listing_pages=2, empty_listings=1, parse_failures=1)


def test_run_stats_from_scrapy_counters() -> None:
    stats = run_stats(
        {
            "kcna_monitor/listing_pages": 3,
            "kcna_monitor/empty_listings": 1,
            "kcna_monitor/articles_parsed": 20,
            "kcna_monitor/parse_failures": 2,
            "kcna_monitor/not_an_article": 1,
            "downloader/response_count": 30,
        }
    )
    assert stats == RunStats(3, 1, 20, 2, 1, 0)


def test_the_stats_collector_adopts_a_run_recorded_by_the_daemon(migrated_sqlite: str) -> None:
    db_url = migrated_sqlite
    engine = make_engine(db_url)
    repo = Repository(engine)
    run_id = repo.runs.start("kcna", T0)
    crawler = get_crawler(KcnaSpider, {"KCNA_MONITOR_DB": db_url, "KCNA_MONITOR_RUN_ID": run_id})
    collector = RunStatsCollector(crawler)
    collector.open_spider()
    assert collector.get_value(keys.RUN_ID) == run_id
    assert [r.id for r in repo.runs.recent()] == [run_id]  # no second run was started


def test_a_stopped_runs_outcome_is_recorded_at_the_stop_and_its_counts_at_the_close(
    db_url: str,
) -> None:
    """The outcome at a stop (once the pipeline stored what it held) stays; what the pipeline
    stored after the stop counts too (a run's counters match what it stored)."""
    crawler = get_crawler(KcnaSpider, {"KCNA_MONITOR_DB": db_url})
    collector = RunStatsCollector(crawler)
    collector.open_spider()
    collector.set_value(keys.NEW, 2)

    async def go() -> None:
        await collector.stop_stored()
        collector.set_value(keys.NEW, 3)
        await collector.spider_closed(None, "finished")

    asyncio.run(go())
    [last] = Repository(make_engine(db_url)).runs.recent(limit=1)
    assert (last.status, last.new, last.error) == ("interrupted", 3, "shutdown")
    assert collector.get_value(keys.RUN_STATUS) == "interrupted"


def test_without_a_database_the_stats_collector_only_collects() -> None:
    collector = RunStatsCollector(get_crawler(KcnaSpider, {"KCNA_MONITOR_DB": ""}))
    collector.open_spider()
    assert collector.recorder is None and collector.get_value(keys.RUN_ID) is None


def test_articles_stored_after_a_stop_count_even_if_the_process_never_closes(db_url: str) -> None:
    """A stopped crawl may be ended before its close (the forced exit): each batch stored
    after the stop updates the run's counters itself, keeping the stop's outcome."""
    crawler = get_crawler(KcnaSpider, {"KCNA_MONITOR_DB": db_url})
    collector = RunStatsCollector(crawler)
    collector.open_spider()
    collector.set_value(keys.NEW, 2)

    async def go() -> None:
        await collector.stop_stored()
        collector.set_value(keys.NEW, 4)
        await collector.batch_stored()  # no spider_closed follows

    asyncio.run(go())
    [last] = Repository(make_engine(db_url)).runs.recent(limit=1)
    assert (last.status, last.new, last.error) == ("interrupted", 4, "shutdown")
