"""Storage: articles per second through the storage layer against raw driver inserts.

Article sightings are built from the corpus (every record, so most articles are seen under
several URLs, as in a crawl; further editions with marked titles and new URLs until there are
``--items``), then saved with ``Repository.articles.save`` in batches of the crawler's size
into a fresh, migrated database. The baseline inserts the same rows, in the same batches, one
transaction each, with the driver's ``executemany`` into one plain table with a primary key.
SQLite (a file, the engine's own settings: WAL, synchronous=NORMAL) is the figure with a
target; PostgreSQL (a fresh schema, dropped after) is reported.

    python bench/storage.py [--items 5000] [--batch 50] [--pg URL | --no-pg]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == HERE:
    sys.path[0] = str(HERE.parent)  # the project's packages, not this folder's scripts

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from bench._common import (  # noqa: E402
    Row,
    corpus_argument,
    load_corpus,
    pg_schema,
    print_profile,
    print_table,
)
from replica.corpus import expected_text, expected_title  # noqa: E402
from replica.render import kcna  # noqa: E402
from storage.db import make_engine, migrate  # noqa: E402
from storage.records import ArticleInput, RawPage  # noqa: E402
from storage.repository import Repository  # noqa: E402

TARGET_RATIO = 0.3
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
COLUMNS = (
    "url",
    "canonical_url",
    "source",
    "title",
    "text",
    "published",
    "published_from",
    "dateline",
    "seen_at",
    "categories",
)
CREATE = (
    "CREATE TABLE raw_articles (url TEXT PRIMARY KEY, canonical_url TEXT, source TEXT, "
    "title TEXT, text TEXT, published DATE, published_from TEXT, dateline TEXT, "
    "seen_at TIMESTAMP, categories TEXT)"
)


def sightings(records: list[dict[str, Any]], count: int, *, pages: bool) -> list[ArticleInput]:
    """``count`` sightings: the corpus in order, then editions of it with new URLs."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    out: list[ArticleInput] = []
    edition = 0
    while len(out) < count:
        for rec in records:
            if len(out) >= count:
                break
            url, title = rec["url"], rec["title"]
            if edition:
                url = f"{url[:-6]}{edition:04x}.kcmsf"
                title = f"{title} (edition {edition + 1})"
            seen = start + timedelta(seconds=len(out))
            page = None
            if pages:
                body = kcna.render_q_article({**rec, "title": title}).encode("utf-8")
                page = RawPage(url=url, body=body, fetched_at=seen, parser_version="1")
            out.append(
                ArticleInput(
                    url=url,
                    canonical_url=url,
                    source="KCNA.kp (En)",
                    title=expected_title(title),
                    text=expected_text(rec["text"]),
                    published=date.fromisoformat(rec["published"]),
                    published_from="page-stamp",
                    dateline=None,
                    seen_at=seen,
                    categories=tuple(rec["topics"]),
                    page=page,
                )
            )
        edition += 1
    return out


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def row(item: ArticleInput) -> tuple[Any, ...]:
    return (
        item.url,
        item.canonical_url,
        item.source,
        item.title,
        item.text,
        item.published.isoformat() if item.published else None,
        item.published_from,
        item.dateline,
        item.seen_at.isoformat(),
        json.dumps(item.categories),
    )


def through_repository(db_url: str, items: list[ArticleInput], size: int) -> tuple[float, str]:
    """Seconds to save ``items`` in batches, and what was stored."""
    engine = make_engine(db_url)
    try:
        migrate(engine)
        repo = Repository(engine)
        started = time.perf_counter()
        outcomes: dict[str, int] = {}
        for batch in batches(items, size):
            for result in repo.articles.save(batch):
                outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return seconds, ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))


def sqlite_raw(path: Path, items: list[ArticleInput], size: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(CREATE)
        statement = (
            f"INSERT INTO raw_articles VALUES ({', '.join('?' * len(COLUMNS))}) "
            "ON CONFLICT (url) DO NOTHING"
        )
        rows = [row(i) for i in items]
        started = time.perf_counter()
        for batch in batches(rows, size):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(statement, batch)
            connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def postgres_raw(url: str, items: list[ArticleInput], size: int) -> float:
    import psycopg

    rows = [row(i) for i in items]
    statement = (
        f"INSERT INTO raw_articles VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
        "ON CONFLICT (url) DO NOTHING"
    )
    with psycopg.connect(url) as connection:
        connection.execute(CREATE)
        connection.commit()
        started = time.perf_counter()
        for batch in batches(rows, size):
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(statement, batch)
        return time.perf_counter() - started


def measure(
    label: str,
    ours: Callable[[], tuple[float, str]],
    raw: Callable[[], float],
    count: int,
    target: bool,
) -> list[Row]:
    seconds, stored = ours()
    raw_seconds = raw()
    mine, base = count / seconds, count / raw_seconds
    return [
        Row(
            f"{label}: articles/s via Repository",
            f"{mine:,.0f}",
            f"{base:,.0f} (raw executemany)",
            mine / base,
            f">= {TARGET_RATIO}x" if target else "reported",
            mine / base >= TARGET_RATIO if target else None,
        ),
        Row(f"{label}: stored", stored),
    ]


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpus_argument(parser)
    parser.add_argument("--items", type=int, default=5000, help="article sightings (5000)")
    parser.add_argument(
        "--batch", type=int, default=50, help="items per transaction (50, the crawler's)"
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("KCNA_MONITOR_BENCH_PG") or DEFAULT_PG,
        metavar="URL",
        help=f"PostgreSQL server (default: $KCNA_MONITOR_BENCH_PG, else {DEFAULT_PG})",
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="profile the SQLite repository run into FILE"
    )
    return parser.parse_args()


def sqlite_rows(
    items: list[ArticleInput], with_pages: list[ArticleInput], options: argparse.Namespace
) -> list[Row]:
    """SQLite files in a temporary folder: the figure with a target, the one with raw pages
    kept, and the profile when asked for."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kcna-bench-") as tmp:
        folder = Path(tmp)

        def sqlite_ours(name: str, chosen: list[ArticleInput]) -> Callable[[], tuple[float, str]]:
            return lambda: through_repository(f"sqlite:///{folder / name}", chosen, options.batch)

        rows += measure(
            "SQLite",
            sqlite_ours("ours.db", items),
            lambda: sqlite_raw(folder / "raw.db", items, options.batch),
            len(items),
            target=True,
        )
        rows += measure(
            "SQLite, raw pages kept",
            sqlite_ours("ours-pages.db", with_pages),
            lambda: sqlite_raw(folder / "raw2.db", items, options.batch),
            len(items),
            target=False,
        )[:1]
        if options.profile is not None:
            profiler = cProfile.Profile()
            profiler.runcall(sqlite_ours("profiled.db", items))
            profiler.dump_stats(str(options.profile))
    return rows


def postgres_rows(items: list[ArticleInput], options: argparse.Namespace) -> list[Row]:
    """Fresh schemas of the PostgreSQL server, dropped after; skipped without one."""
    if options.no_pg:
        return [Row("PostgreSQL", "skipped (--no-pg)")]
    try:
        with pg_schema(options.pg) as (sa_url, _), pg_schema(options.pg) as (_, raw_url):
            return measure(
                "PostgreSQL",
                lambda: through_repository(sa_url, items, options.batch),
                lambda: postgres_raw(raw_url, items, options.batch),
                len(items),
                target=False,
            )
    except Exception as exc:  # no server, no driver: report, do not fail the SQLite figure
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}")
        return [Row("PostgreSQL", f"skipped ({type(exc).__name__})")]


def main() -> int:
    options = parse_options()
    records = load_corpus(options.corpus)
    items = sightings(records, options.items, pages=False)
    with_pages = sightings(records, options.items, pages=True)
    distinct = len({(i.title, i.published, i.text) for i in items})
    print(f"{len(items)} sightings of {distinct} distinct articles, batches of {options.batch}")

    rows = [*sqlite_rows(items, with_pages, options), *postgres_rows(items, options)]
    print_table("Storage (article sightings per second, batches as in a crawl)", rows)
    if options.profile is not None:
        print_profile(options.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
