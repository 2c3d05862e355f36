"""The storing pipeline, built without a crawler: batching, outcomes, failures, and no loss
when the database refuses a batch. (How the run is recorded: test_run_record.py.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from crawler.extract.records import ArticleRecord
from crawler.items import ArticleItem, CategoryItem, FailureItem
from crawler.pipelines.validate import ValidatePipeline
from storage.articles import Articles
from storage.db import make_engine
from storage.errors import DatabaseUnavailable
from storage.repository import Repository
from tests.crawl_storing import Storing
from tests.storage_helpers import count_pages, last_failures, latest_page

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def item(n: int, *, text: str | None = None, published: date | None = date(2024, 5, 1)):
    record = ArticleRecord(
        url=f"http://www.kcna.kp/en/article/detail/{n:032x}",
        canonical_url=f"http://www.kcna.kp/en/article/detail/{n:032x}",
        source="KCNA.kp (En)",
        title=f"Article number {n}",
        text=text or f"Pyongyang, May 1 (KCNA) -- Text of article {n}.",
        published=published,
        published_from="listing",
        dateline="Pyongyang, May 1 (KCNA)",
        source_key=f"kcna-detail:{n:032x}",
    )
    return ArticleItem(record=record, seen_at=T0, body=b"<html>page</html>", parser_version="1")


def run(coro):
    return asyncio.run(coro)


def articles_in(db_url: str) -> list:
    return list(Repository(make_engine(db_url)).articles.iterate())


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.db'}"


def crawl_once(pipeline: Storing, items: list) -> None:
    async def go() -> None:
        await pipeline.open()
        await pipeline.process(items)
        await pipeline.pipeline.close_spider()

    run(go())


def test_items_are_stored_in_batches_with_their_outcomes(db_url: str, tmp_path: Path) -> None:
    first = Storing(db_url, source="kcna", batch_size=2, spool_dir=tmp_path / "spool")
    crawl_once(first, [item(1), item(2), item(3)])
    assert (first.counts.new, first.counts.unchanged) == (3, 0)

    second = Storing(db_url, source="kcna", batch_size=2, spool_dir=tmp_path / "spool")
    crawl_once(second, [item(1), item(2, text="Pyongyang, May 1 (KCNA) -- Edited."), item(3)])
    assert (second.counts.new, second.counts.changed, second.counts.unchanged) == (0, 1, 2)
    assert len(articles_in(db_url)) == 3
    assert count_pages(make_engine(db_url)) == 3  # raw pages kept once


def test_failures_are_recorded_against_the_run(db_url: str) -> None:
    pipeline = Storing(db_url, source="kcna", batch_size=10)
    failure = FailureItem(url="http://www.kcna.kp/en/article/q/ab.kcmsf", reason="no body", at=T0)
    crawl_once(pipeline, [failure, item(1)])
    [recorded] = last_failures(make_engine(db_url))
    assert (recorded.url, recorded.reason, recorded.run_id) == (
        failure.url,
        "no body",
        pipeline.run_id,
    )


def test_listings_add_their_categories_to_articles_stored_before_or_later(db_url: str) -> None:
    crawl_once(Storing(db_url, source="kcna"), [item(1)])
    one, two, three = (item(n).record.url for n in (1, 2, 3))
    pipeline = Storing(db_url, source="kcna", batch_size=2)
    shown = [
        CategoryItem("Top News", (one, two)),  # before the article two is stored
        item(2),
        CategoryItem("Latest News", (two, three)),  # three is never stored
        CategoryItem("Top News", (two,)),
    ]
    crawl_once(pipeline, shown)
    stored = {a.url: a.categories for a in articles_in(db_url)}
    assert stored == {one: ["Top News"], two: ["Top News", "Latest News"]}


def test_categories_the_database_refuses_wait_and_cost_no_article(db_url: str) -> None:
    pipeline = Storing(db_url, source="kcna", batch_size=1)
    url = item(1).record.url
    tries: list[int] = []

    async def go() -> None:
        await pipeline.open()
        real = pipeline.pipeline.repo.articles.add_categories

        def refuse_once(categories):
            tries.append(len(categories))
            if len(tries) == 1:
                raise DatabaseUnavailable("database is locked")
            return real(categories)

        pipeline.pipeline.repo.articles.add_categories = refuse_once
        await pipeline.process([CategoryItem("Top News", (url,)), item(1)])
        await pipeline.pipeline.close_spider()

    run(go())
    assert pipeline.counts.new == 1  # stored once, counted once
    assert tries == [1, 1]
    assert [a.categories for a in articles_in(db_url)] == [["Top News"]]


def test_a_failure_is_recorded_with_its_listing_date_and_category(db_url: str) -> None:
    failure = FailureItem(
        url="http://www.kcna.kp/en/article/q/ab.kcmsf",
        reason="HTTP 503",
        at=T0,
        listed_on=date(2024, 5, 1),
        category="Top News",
    )
    crawl_once(Storing(db_url, source="kcna"), [failure])
    [recorded] = last_failures(make_engine(db_url))
    assert (recorded.listed_on, recorded.category) == (date(2024, 5, 1), "Top News")


def test_a_dropped_article_becomes_a_failure_not_a_silent_loss(db_url: str) -> None:
    bad = item(7, published=None)
    with pytest.raises(Exception, match="no publication date") as dropped:
        run(ValidatePipeline().process_item(bad))
    pipeline = Storing(db_url, source="kcna")

    async def go() -> None:
        await pipeline.open()
        pipeline.pipeline.item_dropped(bad, None, dropped.value, None)
        await pipeline.pipeline.close_spider()

    run(go())
    [recorded] = last_failures(make_engine(db_url))
    assert recorded.url == bad.record.url
    assert "no publication date" in recorded.reason


class FlakyArticles:
    """An article store whose database refuses writes while ``down`` is set."""

    def __init__(self, real: Articles) -> None:
        self.real = real
        self.down = True

    def save(self, items):
        if self.down:
            raise DatabaseUnavailable("database is locked: another process held it for 30 s")
        return self.real.save(items)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_refused_batch_is_kept_and_written_when_the_database_is_back(db_url: str) -> None:
    pipeline = Storing(db_url, source="kcna", batch_size=2)

    async def go() -> None:
        await pipeline.open()
        assert pipeline.pipeline.repo is not None
        flaky = FlakyArticles(pipeline.pipeline.repo.articles)
        pipeline.pipeline.repo.articles = flaky  # type: ignore[assignment]
        for n in (1, 2, 3):
            await pipeline.pipeline.process_item(item(n))
        assert articles_in(db_url) == []
        flaky.down = False
        await pipeline.pipeline.close_spider()

    run(go())
    assert len(articles_in(db_url)) == 3
    assert pipeline.counts.new == 3
    assert any("could not store 2 articles" in e for e in pipeline.counts.errors)


def test_articles_the_database_never_took_are_spooled_and_loaded_next_time(
    db_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    pipeline = Storing(db_url, source="kcna", batch_size=2, spool_dir=spool)

    async def outage() -> None:
        await pipeline.open()
        repo = pipeline.pipeline.repo
        assert repo is not None
        repo.articles = FlakyArticles(repo.articles)  # type: ignore[assignment]
        for n in (1, 2, 3):
            await pipeline.pipeline.process_item(item(n))
        await pipeline.pipeline.close_spider()

    run(outage())
    assert articles_in(db_url) == []
    assert pipeline.counts.unsaved == 3
    assert len((spool / "kcna.jsonl").read_text().splitlines()) == 3

    later = Storing(db_url, source="kcna", batch_size=2, spool_dir=spool)
    crawl_once(later, [item(3)])
    stored = articles_in(db_url)
    assert sorted(a.title for a in stored) == [
        "Article number 1",
        "Article number 2",
        "Article number 3",
    ]
    assert not any(spool.iterdir())
    page = latest_page(make_engine(db_url), item(1).record.url)
    assert page is not None and page.body == b"<html>page</html>"
