"""The search benchmark on one database: the archive made ready (SQLite from a cached file,
PostgreSQL in a fresh schema), the index built, the storage-level figures measured."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from bench._common import Row, pg_schema, print_table
from bench.search_archive import (
    GENERATOR_VERSION,
    Pool,
    database_size,
    load,
    sample_ids,
    settle,
)
from bench.search_timing import (
    Case,
    cases,
    hits,
    percentile,
    time_archive_page,
    time_article_page,
    time_find,
    time_like,
    time_newest_page,
)
from storage.db import alembic_config, make_engine, migrate
from storage.repository import Repository

#: p95 targets, in milliseconds.
TARGET_SEARCH_MS = {"SQLite": 50.0, "PostgreSQL": 100.0}
TARGET_PAGE_MS = 50.0
MB = 1024 * 1024


@dataclass
class Backend:
    """A migrated archive of generated articles, without its full-text index yet."""

    label: str
    engine: Engine
    built: str


def schema_head() -> str:
    """The newest migration's revision: part of the cache key."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def _cache_key(pool: Pool, articles: int) -> str:
    corpus = hashlib.sha256("\n".join(pool.titles).encode()).hexdigest()[:8]
    return f"search-{articles}-r{schema_head()}-g{GENERATOR_VERSION}-{corpus}"


def _build(path: Path, pool: Pool, articles: int) -> dict[str, object]:
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        started = time.perf_counter()
        counts = load(engine, pool, articles)
        return {"seconds": time.perf_counter() - started, "counts": counts}
    finally:
        engine.dispose()


@contextmanager
def sqlite_archive(options: argparse.Namespace, pool: Pool) -> Iterator[Backend]:
    """A copy of the cached SQLite archive (built first when missing or ``--fresh``), in a
    temporary folder removed after."""
    key = _cache_key(pool, options.articles)
    cached, note = options.cache / f"{key}.db", options.cache / f"{key}.json"
    built = "cached"
    if options.fresh or not (cached.is_file() and note.is_file()):
        options.cache.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        facts = _build(partial, pool, options.articles)
        partial.replace(cached)
        note.write_text(json.dumps(facts))
        built = "inserted now"
    facts = json.loads(note.read_text())
    with tempfile.TemporaryDirectory(prefix="kcna-bench-search-") as folder:
        work = Path(folder) / "archive.db"
        shutil.copyfile(cached, work)
        engine = make_engine(f"sqlite:///{work}")
        try:
            yield Backend("SQLite", engine, f"{built}; bulk insert took {facts['seconds']:.0f} s")
        finally:
            engine.dispose()


@contextmanager
def postgres_archive(admin: str, pool: Pool, articles: int) -> Iterator[Backend]:
    """The archive in a fresh schema of the server ``admin``, dropped after."""
    with pg_schema(admin) as (url, _):
        engine = make_engine(url)
        try:
            migrate(engine)
            started = time.perf_counter()
            load(engine, pool, articles)
            seconds = time.perf_counter() - started
            yield Backend("PostgreSQL", engine, f"inserted now; bulk insert took {seconds:.0f} s")
        finally:
            engine.dispose()


def _archive_facts(engine: Engine) -> str:
    query = text(
        "SELECT count(*), sum(version_count), sum(CASE WHEN version_count > 1 THEN 1 ELSE 0 END),"
        " sum(CASE WHEN gone_at IS NULL THEN 0 ELSE 1 END) FROM articles"
    )
    with engine.connect() as connection:
        articles, versions, edited, gone = connection.execute(query).one()
    return f"{articles:,} articles, {versions:,} versions ({edited:,} edited), {gone:,} gone"


def _build_index(backend: Backend) -> list[Row]:
    """Size without the index, ``reindex()`` timed, size with it."""
    engine, label = backend.engine, backend.label
    without = database_size(engine)
    started = time.perf_counter()
    Repository(engine).search.reindex()
    seconds = time.perf_counter() - started
    if engine.dialect.name == "postgresql":  # reindex rewrote the tables
        settle(engine)
    with_index = database_size(engine)
    return [
        Row(f"{label}: archive", _archive_facts(engine), backend.built),
        Row(f"{label}: index build, repo.search.reindex()", f"{seconds:.1f} s"),
        Row(
            f"{label}: database size with the index",
            f"{with_index / MB:,.0f}",
            f"{without / MB:,.0f} (without)",
            with_index / without,
        ),
    ]


def _query_table(
    label: str,
    chosen: Sequence[Case],
    found: dict[str, list[float]],
    scanned: dict[str, list[float]],
    counts: dict[str, int],
) -> None:
    rows = []
    for case in chosen:
        ours, scan = percentile(found[case.query], 0.5), percentile(scanned[case.query], 0.5)
        rows.append(
            Row(
                f"{case.kind}: {case.query}",
                f"{ours * 1000:.1f} ms ({counts[case.query]:,} hits)",
                f"{scan * 1000:.0f} ms (LIKE)",
                ours / scan,
            )
        )
    print_table(f"{label}: each query, median of its runs", rows)


def _latency_row(
    figure: str, samples: list[float], base: list[float] | None, share: float, target: float
) -> Row:
    ours = percentile(samples, share) * 1000
    baseline = percentile(base, share) * 1000 if base else None
    return Row(
        figure,
        f"{ours:.1f} ms",
        f"{baseline:.0f} ms (LIKE scans)" if baseline is not None else "",
        ours / baseline if baseline else None,
        f"< {target:.0f} ms" if share == 0.95 else "",
        ours < target if share == 0.95 else None,
    )


def measure_backend(backend: Backend, pool: Pool, repeats: int) -> list[Row]:
    """The storage-level figures of one database."""
    label, engine = backend.label, backend.engine
    rows = _build_index(backend)
    repo = Repository(engine)
    chosen = cases(pool)
    counts = hits(repo, chosen)
    found = time_find(repo, chosen, repeats)
    scanned = time_like(engine, chosen, 1)
    _query_table(label, chosen, found, scanned, counts)
    all_found = [t for times in found.values() for t in times]
    all_scanned = [t for times in scanned.values() for t in times]
    target = TARGET_SEARCH_MS[label]
    for share in (0.5, 0.95):
        figure = f"{label}: search, first page with snippets, p{share * 100:.0f}"
        rows.append(_latency_row(figure, all_found, all_scanned, share, target))
    archive = time_archive_page(repo, pages=10, repeats=2)
    figure = f"{label}: archive page (search.browse, 50 by cursor), p95"
    rows.append(_latency_row(figure, archive, None, 0.95, TARGET_PAGE_MS))
    newest = time_newest_page(repo, pages=10, repeats=2)
    figure = f"{label}: articles.newest (50 by offset) + count, p95"
    rows.append(_latency_row(figure, newest, None, 0.95, TARGET_PAGE_MS))
    ids = sample_ids(engine, versions=5, limit=20)
    article = time_article_page(repo, ids, repeats=3) if ids else []
    if article:
        figure = f"{label}: article page, 5 versions, p95"
        rows.append(_latency_row(figure, article, None, 0.95, TARGET_PAGE_MS))
    return rows
