"""Two processes storing the same articles at the same moment, on SQLite and PostgreSQL.

Both start at a barrier on a fresh database, both migrate it, then both store the same
articles (one in the opposite order) in small batches. Afterwards there must be exactly one
row per article, URL and version, every article created exactly once, and no error.
"""

from __future__ import annotations

import multiprocessing
import queue

from sqlalchemy import func, select

from storage.db import make_engine
from storage.models import Article, ArticleUrl, ArticleVersion
from storage.repository import Repository
from tests.storage_helpers import concurrency_items, store_concurrently


def test_two_processes_store_the_same_articles(db_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=store_concurrently, args=(db_url, barrier, reverse, results))
        for reverse in (False, True)
    ]
    for worker in workers:
        worker.start()
    reports = []
    try:
        for _ in workers:
            reports.append(results.get(timeout=240))
    except queue.Empty:
        reports.append(("error", "a worker neither finished nor reported within 240 s"))
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    errors = [detail for status, detail in reports if status != "ok"]
    assert not errors, "\n\n".join(errors)
    assert [worker.exitcode for worker in workers] == [0, 0]

    items = concurrency_items()
    counts = [detail for _, detail in reports]
    assert all(sum(c.values()) == len(items) for c in counts)
    assert sum(c.get("new", 0) for c in counts) == 300  # each article created exactly once
    assert all(c.get("changed", 0) == 0 for c in counts)

    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:

            def count(column: object) -> tuple[int, int]:
                total = connection.execute(select(func.count(column))).scalar_one()
                distinct = connection.execute(select(func.count(func.distinct(column))))
                return total, distinct.scalar_one()

            assert count(Article.id) == (300, 300)
            assert count(ArticleUrl.url) == (len(items), len(items))
            assert count(ArticleVersion.article_id) == (300, 300)
            assert set(connection.execute(select(Article.version_count)).scalars()) == {1}
        repo = Repository(engine)
        by_url = {url.url: view.id for view in repo.articles.iterate() for url in view.urls}
        assert set(by_url) == {item.url for item in items}
        groups: dict[str, set[str]] = {}
        for item in items:
            groups.setdefault(item.canonical_url, set()).add(by_url[item.url])
        assert all(len(ids) == 1 for ids in groups.values())
        copies = [v for v in repo.articles.iterate() if any("kcnawatch" in u.url for u in v.urls)]
        assert len(copies) == 100
        assert all(set(v.categories) == {"News", "KCNA Watch"} for v in copies)
        assert all("kcna.kp" in v.url and v.published_from == "page-stamp" for v in copies)
    finally:
        engine.dispose()
