"""The storing components under faults, built without a crawler: a disk that is full for the
database and for the spool, a spool load cut short, a stop request, the flush timer, and runs
left ``running`` by crawls that died."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.pipelines.inputs import to_input
from crawler.pipelines.spool import encode
from crawler.state import Validators
from storage.db import make_engine
from storage.errors import DatabaseUnavailable
from storage.repository import Repository
from tests.crawl_storing import Storing
from tests.test_pipeline_store import articles_in, item

LISTING = "http://www.kcna.kp/en/category/articles/q/top.kcmsf"
KCNA = ("http://www.kcna.kp/", "https://www.kcna.kp/")
DISK_FULL = "database or disk is full"


#: The stores' methods that write.
WRITES = ("save", "record_", "mark_", "finish", "update_", "close")


class FullDisk:
    """A repository on a full disk: every write fails as SQLite says it, until ``freed``."""

    def __init__(self, real: Repository) -> None:
        self.freed = False
        self.engine = real.engine
        self.articles = FullStore(self, real.articles)
        self.crawl_state = FullStore(self, real.crawl_state)
        self.runs = FullStore(self, real.runs)
        self.outbox, self.alarms = real.outbox, real.alarms


class FullStore:
    """One store of a :class:`FullDisk`."""

    def __init__(self, disk: FullDisk, real: object) -> None:
        self.disk, self.real = disk, real

    def __getattr__(self, name: str):
        method = getattr(self.real, name)
        if not name.startswith(WRITES):
            return method

        def write(*args, **kwargs):
            if not self.disk.freed:
                raise DatabaseUnavailable(f"cannot write to the database: {DISK_FULL}")
            return method(*args, **kwargs)

        return write


@pytest.fixture
def db_url(migrated_sqlite: str) -> str:
    return migrated_sqlite


def pipeline(db_url: str, spool: Path | None, **kwargs) -> Storing:
    return Storing(
        db_url,
        source="kcna",
        batch_size=2,
        spool_dir=spool,
        site_prefixes=KCNA,
        flush_every=0,
        **kwargs,
    )


def test_a_full_disk_fails_the_run_and_vouches_for_nothing(db_url: str, tmp_path: Path) -> None:
    """Neither the database nor the spool take the articles: the run fails saying so, and
    the listing's validators are not kept, so the next crawl fetches it (and them) again."""
    full = tmp_path / "spool"
    full.mkdir()
    built = pipeline(db_url, full)

    async def go() -> None:
        await built.open()
        (full / "kcna.jsonl").symlink_to("/dev/full")  # writes fail with ENOSPC
        built.pipeline.repo = FullDisk(built.pipeline.repo)  # type: ignore[assignment,arg-type]
        built.state.learn(LISTING, Validators('"v1"', None))  # type: ignore[union-attr]
        for n in (1, 2, 3):
            await built.pipeline.process_item(item(n))
        await built.pipeline.close_spider()
        built.pipeline.repo.freed = True  # type: ignore[attr-defined]  # to read the run's end back
        await built.closed("finished")

    asyncio.run(go())
    assert articles_in(db_url) == []
    assert built.counts.unsaved == 3
    repo = Repository(make_engine(db_url))
    [run] = repo.runs.recent(limit=1)
    assert run.status == "failed"
    assert DISK_FULL in (run.error or "") and "No space left on device" in (run.error or "")
    assert repo.crawl_state.validators(KCNA, listings_only=True) == {}

    (full / "kcna.jsonl").unlink()
    again = pipeline(db_url, full)
    asyncio.run(_crawl(again, [item(1), item(2), item(3)]))
    assert len(articles_in(db_url)) == 3


async def _crawl(built: Storing, items: list) -> None:
    await built.crawl(items, "finished")


def test_validators_are_kept_only_when_every_article_is_stored(db_url: str) -> None:
    built = pipeline(db_url, None)

    async def go() -> None:
        await built.open()
        built.state.learn(LISTING, Validators('"v1"', None))  # type: ignore[union-attr]
        await built.pipeline.process_item(item(1))
        await built.close("finished")

    asyncio.run(go())
    stored = Repository(make_engine(db_url)).crawl_state.validators(KCNA, listings_only=True)
    assert stored == {LISTING: ('"v1"', None)}


def test_an_interrupted_spool_load_is_resumed(db_url: str, tmp_path: Path) -> None:
    """A crawl died while loading the spool (it had moved it to ``.loading``) and another
    spooled more since: the next crawl stores both, once, and removes the files."""
    spool = tmp_path / "spool"
    spool.mkdir()
    lines = [json.dumps(encode(to_input(item(n), keep_page=True))) for n in (1, 2)]
    (spool / "kcna.loading").write_text("\n".join(lines) + "\n" + lines[1][:40])  # cut short
    (spool / "kcna.jsonl").write_text(json.dumps(encode(to_input(item(3), True))) + "\n")

    built = pipeline(db_url, spool)
    asyncio.run(_crawl(built, []))
    assert sorted(a.title for a in articles_in(db_url)) == [
        f"Article number {n}" for n in (1, 2, 3)
    ]
    assert list(spool.iterdir()) == []
    [run] = Repository(make_engine(db_url)).runs.recent(limit=1)
    assert (run.new, run.status) == (3, "failed")  # no page fetched, but nothing lost


def test_a_spool_load_the_database_refuses_stays_for_the_next_crawl(
    db_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "kcna.jsonl").write_text(json.dumps(encode(to_input(item(1), True))) + "\n")
    built = pipeline(db_url, spool)
    real_open = built.pipeline._open_repository
    built.pipeline._open_repository = lambda: FullDisk(real_open())  # type: ignore[method-assign]
    asyncio.run(_crawl(built, []))
    assert articles_in(db_url) == []
    assert [p.name for p in spool.iterdir()] == ["kcna.loading"]  # kept, not spooled twice

    asyncio.run(_crawl(pipeline(db_url, spool), []))
    assert [a.title for a in articles_in(db_url)] == ["Article number 1"]
    assert list(spool.iterdir()) == []


def test_a_stop_request_stores_what_was_parsed_and_records_the_run(db_url: str) -> None:
    built = Storing(db_url, source="kcna", batch_size=1000, flush_every=0)

    async def go() -> None:
        await built.open()
        for n in (1, 2, 3):
            await built.pipeline.process_item(item(n))
        assert articles_in(db_url) == []
        await built.stop()
        assert len(articles_in(db_url)) == 3
        await built.close("shutdown")

    asyncio.run(go())
    [run] = Repository(make_engine(db_url)).runs.recent(limit=1)
    assert (run.status, run.new) == ("interrupted", 3)


def test_the_timer_flushes_without_new_items(db_url: str) -> None:
    built = Storing(db_url, source="kcna", batch_size=1000, flush_every=0.05)

    async def go() -> None:
        await built.open()
        await built.pipeline.process_item(item(1))
        for _ in range(200):  # the timer's own clock: wait for it, not for a fixed time
            if articles_in(db_url):
                break
            await asyncio.sleep(0.05)
        assert len(articles_in(db_url)) == 1
        [run] = Repository(make_engine(db_url)).runs.recent(limit=1)
        assert (run.status, run.new) == ("running", 1)  # counters kept current
        await built.pipeline.close_spider()

    asyncio.run(go())


def test_runs_left_running_by_dead_crawls_are_settled(db_url: str) -> None:
    repo = Repository(make_engine(db_url))
    at = datetime(2026, 3, 1, tzinfo=UTC)
    dead = repo.runs.start("kcna", at, pid=2**22 + 12345, host="here")
    alive = repo.runs.start("kcna", at, pid=os.getpid(), host="here")
    elsewhere = repo.runs.start("kcna", at, pid=2**22 + 12345, host="another")
    repo.runs.update_counts(dead, pages=5, new=2, changed=0, unchanged=3, failures=0)

    settled = repo.runs.settle_dead(host="here", is_alive=_alive, at=at)
    assert [r.id for r in settled] == [dead]
    statuses = {r.id: (r.status, r.new) for r in repo.runs.recent(limit=10)}
    assert statuses == {
        dead: ("interrupted", 2),
        alive: ("running", 0),
        elsewhere: ("running", 0),
    }
    assert repo.runs.last_crawl_unfinished("kcna")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
