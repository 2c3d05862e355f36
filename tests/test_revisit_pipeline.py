"""Revisits without a crawler: what the archive-state extension loads for the spider (with an
injected clock), what the storing pipeline writes for checked, gone and listed pages, and the
conditional requests of revisited article pages."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse

from crawler.items import CheckedItem, GoneItem, ListingItem
from crawler.middlewares.conditional import ConditionalRequestMiddleware
from crawler.plan import CrawlPlan
from crawler.state import ArchiveState, Validators
from storage.db import make_engine
from storage.repository import Repository
from tests.crawl_storing import Storing
from tests.storage_helpers import make_item, q_url

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KCNA = ("http://www.kcna.kp/", "https://www.kcna.kp/")
MIRROR = "http://127.0.0.1:8080/en/article/q/x.kcmsf"


@pytest.fixture
def repo(migrated_sqlite: str) -> Repository:
    engine = make_engine(migrated_sqlite)
    repository = Repository(engine)
    repository.articles.save(
        [
            make_item(1, published=date(2026, 3, 1)),
            make_item(2, published=date(2025, 3, 1)),
        ]
    )
    return repository


def pipeline(repo: Repository, now: datetime, **kwargs) -> Storing:
    url = repo.engine.url.render_as_string(hide_password=False)
    return Storing(url, source="kcna", site_prefixes=KCNA, clock=lambda: now, **kwargs)


def run(built: Storing, items: list) -> ArchiveState:
    asyncio.run(built.crawl(items, "finished"))
    return built.announced[0]


def test_young_articles_are_due_once_per_interval(repo: Repository) -> None:
    state = run(pipeline(repo, T0 + 2 * DAY), [])
    assert state.revisit_urls == {q_url(1): date(2026, 3, 1)}
    assert run(pipeline(repo, T0 + DAY / 2), []).revisit_urls == {}  # seen less than a day ago
    assert run(pipeline(repo, T0 + 2 * DAY, revisit_days=0), []).revisit_urls == {}

    checked = CheckedItem(q_url(1), T0 + 2 * DAY, still_there=True)
    run(pipeline(repo, T0 + 2 * DAY), [checked])
    assert run(pipeline(repo, T0 + 2 * DAY + DAY / 2), []).revisit_urls == {}
    assert q_url(1) in run(pipeline(repo, T0 + 3 * DAY + 1 * DAY / 24), []).revisit_urls


def test_a_recheck_takes_the_articles_it_names_whatever_their_age(repo: Repository) -> None:
    spring = CrawlPlan("recheck", since=date(2025, 1, 1), until=date(2025, 12, 31))
    state = run(pipeline(repo, T0, plan=spring), [])
    assert state.revisit_urls == {q_url(2): date(2025, 3, 1)}


def test_gone_checked_and_listed_pages_are_written(repo: Repository) -> None:
    [one] = [a for a in repo.articles.iterate() if a.url == q_url(1)]
    repo.crawl_state.save_validators({q_url(1): ('"etag-1"', None)}, T0)
    built = pipeline(repo, T0 + 2 * DAY)
    state = run(built, [GoneItem(q_url(1), "HTTP 404", T0 + 2 * DAY)])
    assert state.validators_for(q_url(1)) == Validators('"etag-1"', None)  # conditional
    assert built.counts.gone == 1
    assert repo.articles.get(one.id).gone_at == T0 + 2 * DAY  # type: ignore[union-attr]
    assert run(pipeline(repo, T0 + 3 * DAY), []).gone_urls == {q_url(1)}

    back = pipeline(repo, T0 + 3 * DAY)
    run(back, [CheckedItem(q_url(1), T0 + 3 * DAY, still_there=True)])
    assert back.counts.back == 1
    assert repo.articles.get(one.id).gone_at is None  # type: ignore[union-attr]

    listing = "http://www.kcna.kp/en/category/articles/q/top.kcmsf"
    pages = [ListingItem(listing, (q_url(1), q_url(2)), T0)]
    run(pipeline(repo, T0 + 4 * DAY), pages)
    vanished = pipeline(repo, T0 + 5 * DAY)
    run(vanished, [ListingItem(listing, (q_url(2),), T0 + 5 * DAY)])
    assert vanished.counts.gone == 1
    assert [e.kind for e in repo.articles.events_of(one.id)] == ["new", "gone", "back", "gone"]


def test_revisited_article_pages_are_conditional_and_all_article_pages_teach() -> None:
    state = ArchiveState.of([], {q_url(1): Validators('"abc"')})
    mw = ConditionalRequestMiddleware()
    mw.archive_opened(state)
    meta = {"kcna_public_url": q_url(1), "kcna_article": True}
    plain, check = (
        Request(MIRROR, meta=dict(meta)),
        Request(MIRROR, meta={**meta, "kcna_check": True}),
    )
    mw.process_request(plain)
    mw.process_request(check)
    assert b"If-None-Match" not in plain.headers
    assert check.headers[b"If-None-Match"] == b'"abc"'

    fresh = HtmlResponse(MIRROR, headers={"ETag": '"new"'}, body=b"<html></html>", request=plain)
    mw.process_response(plain, fresh)
    assert state.take_learnt() == {q_url(1): Validators('"new"', None)}
