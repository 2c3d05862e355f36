"""An archive to read in the reading room's page tests: dated articles from two publishers, one
edited twice (three versions), one gone, one with markup in its title and text, a recorded
watch match; and the web context over it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from scheduler.config import validate
from scheduler.monitor.outbox import Monitor
from scheduler.web.context import WebContext
from storage.repository import Repository
from tests.monitor_helpers import Clock
from tests.storage_helpers import HOUR, T0, make_item

#: Plain articles stored besides the special ones (enough for several pages).
PLAIN = 30
PAGE_SIZE = 10
HOSTILE_TITLE = "Statement <b>bold</b> & <script>alert(1)</script>"
HOSTILE_TEXT = "Before <script>alert(1)</script> the <b>missile</b> text & more."
EDITED = [
    "Pyongyang, March 2 (KCNA) -- The missile launch was a success.\nSecond paragraph stays.",
    "Pyongyang, March 2 (KCNA) -- The satellite launch was a great success.\n"
    "Second paragraph stays.",
    "Pyongyang, March 2 (KCNA) -- The satellite launch was a great success.\n"
    "Second paragraph stays.\nA third paragraph was added.",
]
FAILURE = "HTTP 503 <b>at</b> the listing"
RULES = [
    {
        "name": "launches",
        "match": "launch",
        "notify": ["log", "webhook:http://127.0.0.1:9/secret-hook", "tgram://123:SECRET/456"],
    }
]


@dataclass(frozen=True)
class Archive:
    edited: str
    gone: str
    hostile: str
    plain: list[str]


def build_archive(repo: Repository, clock: Clock) -> Archive:
    """Store the articles (published 2026-01-01 onwards, one a day) and their events."""
    plain = []
    for n in range(PLAIN):
        item = make_item(
            100 + n,
            published=date(2026, 1, 1) + timedelta(days=n),
            seen_at=T0 + timedelta(minutes=n),
            categories=("News",) if n % 2 else ("Politics",),
            source="Rodong Sinmun" if n % 3 == 0 else "KCNA.kp (En)",
        )
        plain.append(repo.articles.save([item])[0].article_id)
    edited = ""
    for number, text in enumerate(EDITED):
        item = make_item(
            1,
            title="Launch report" if number == 0 else "Satellite launch report",
            text=text,
            published=date(2026, 3, 2),
            seen_at=T0 + HOUR * (number + 1),
        )
        edited = repo.articles.save([item])[0].article_id
    gone_item = make_item(2, text="A text that disappeared.", published=date(2026, 3, 3))
    gone = repo.articles.save([gone_item])[0].article_id
    repo.crawl_state.mark_gone([gone_item.url], at=T0 + HOUR * 5, reason="HTTP 404")
    hostile_item = make_item(3, title=HOSTILE_TITLE, text=HOSTILE_TEXT, published=None)
    hostile = repo.articles.save([hostile_item])[0].article_id
    Monitor(repo, web_config().monitoring, sources=[], clock=clock).evaluate()
    record_runs(repo)
    return Archive(edited=edited, gone=gone, hostile=hostile, plain=plain)


def record_runs(repo: Repository) -> None:
    """A successful run of kcna, a failed one of kcnawatch."""
    counts = {"pages": 7, "new": 33, "changed": 2, "unchanged": 0}
    run = repo.runs.start("kcna", T0)
    repo.runs.finish(run, finished_at=T0 + HOUR, status="ok", failures=0, **counts)
    failed = repo.runs.start("kcnawatch", T0)
    repo.runs.finish(
        failed, finished_at=T0 + HOUR, status="failed", failures=1, error=FAILURE, **counts
    )


def web_config(**sections: Any) -> Any:  # a Config
    return validate({"watch": RULES, "web": {"page_size": PAGE_SIZE}, **sections})


def web_context(repo: Repository, clock: Clock, db_url: str) -> WebContext:
    return WebContext(repo=repo, config=web_config(), db_url=db_url, clock=clock)
