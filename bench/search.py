"""Search: full-text queries, the archive page and the article page on a synthetic archive of
200,000 articles, against ``LIKE '%…%'`` scans of the same queries.

The archive is made from the corpus (bench/search_archive.py: recombined articles over thirty
years, both sources, a fifth with 2 to 5 versions, some gone) and inserted in bulk into a
migrated archive without its full-text index; then ``repo.search.reindex()`` builds the index
(timed), and the database size is taken before and after. On SQLite (a file, built once and
kept in a cache folder, keyed by the number of articles, the schema revision and the corpus)
and on PostgreSQL (a fresh schema of the server ``--pg``, dropped after):

- 20 typical queries (bench/search_timing.py) through ``repo.search.find``, first page of 20
  with snippets and the count: p50 and p95 (targets: p95 < 50 ms on SQLite, < 100 ms on
  PostgreSQL); the baseline runs each query as ``LIKE`` scans over title and text (the count
  and a first page), in the same run; the ratio is our time over the scan's;
- the archive page (``newest`` and the count) and an article page with 5 versions (``get``
  with its history and ``events_of``): p95 < 50 ms;
- ``kcna-monitor serve`` started on each archive (bench/search_web.py; ``--no-web`` leaves it
  out, ``--url`` measures a running one instead): ``/api/articles?q=`` requests per second
  under 16 concurrent clients (no errors), and p95 of ``/`` and ``/articles/ID`` (an article
  with 5 versions), each against ``/healthz`` under the same load (bench/search_http.py).

    python bench/search.py [--articles 200000] [--pg URL | --no-pg] [--no-web | --url URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == HERE:
    sys.path[0] = str(HERE.parent)  # the project's packages, not this folder's scripts

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

from bench._common import Row, corpus_argument, load_corpus, print_table  # noqa: E402
from bench.search_archive import Pool, sample_ids  # noqa: E402
from bench.search_backend import (  # noqa: E402
    Backend,
    measure_backend,
    postgres_archive,
    sqlite_archive,
)
from bench.search_timing import cases  # noqa: E402
from bench.search_web import served_rows, web_rows  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
CACHE_DIR = Path(tempfile.gettempdir()) / "kcna-monitor-bench"


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpus_argument(parser)
    parser.add_argument("--articles", type=int, default=200_000, help="archive size (200000)")
    parser.add_argument(
        "--pg",
        default=os.environ.get("KCNA_MONITOR_TEST_PG") or DEFAULT_PG,
        metavar="URL",
        help=f"PostgreSQL server (default: $KCNA_MONITOR_TEST_PG, else {DEFAULT_PG})",
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--cache", type=Path, default=CACHE_DIR, metavar="DIR", help=f"(default: {CACHE_DIR})"
    )
    parser.add_argument("--fresh", action="store_true", help="build the SQLite archive anew")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each query (5)")
    parser.add_argument("--no-web", action="store_true", help="no web figures")
    parser.add_argument(
        "--url",
        metavar="URL",
        help="measure a running `kcna-monitor serve` (e.g. http://127.0.0.1:8080) instead of"
        " starting one on each archive",
    )
    parser.add_argument("--token", help="the server's access token, if it wants one")
    parser.add_argument("--article-id", help="the article page to time (default: the API's)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent API clients (16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="API load duration (10)")
    return parser.parse_args()


def sqlite_rows(options: argparse.Namespace, pool: Pool) -> list[Row]:
    if options.no_sqlite:
        return [Row("SQLite", "skipped (--no-sqlite)")]
    with sqlite_archive(options, pool) as backend:
        return measure_backend(backend, pool, options.repeats) + _web(backend, options, pool)


def postgres_rows(options: argparse.Namespace, pool: Pool) -> list[Row]:
    """A fresh schema of the PostgreSQL server, dropped after; skipped without one."""
    if options.no_pg:
        return [Row("PostgreSQL", "skipped (--no-pg)")]
    try:
        with postgres_archive(options.pg, pool, options.articles) as backend:
            rows = measure_backend(backend, pool, options.repeats)
            return rows + _web(backend, options, pool)
    except Exception as exc:  # no server, no driver: report, keep the SQLite figures
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}")
        return [Row("PostgreSQL", f"skipped ({type(exc).__name__})")]


def _web(backend: Backend, options: argparse.Namespace, pool: Pool) -> list[Row]:
    """The web figures of ``serve`` started on ``backend``'s archive (none with ``--url``,
    measured once for the server given, or ``--no-web``)."""
    if options.url or options.no_web:
        return []
    url = backend.engine.url.render_as_string(hide_password=False)
    article = next(iter(sample_ids(backend.engine, versions=5, limit=1)), None)
    return served_rows(backend.label, url, options, pool, article)


def main() -> int:
    options = parse_options()
    pool = Pool.from_corpus(load_corpus(options.corpus))
    print(
        f"{options.articles:,} articles from {len(pool.titles)} distinct corpus articles;"
        f" {len(cases(pool))} queries, {options.repeats} timed runs each"
    )
    rows = [*sqlite_rows(options, pool), *postgres_rows(options, pool)]
    if options.url:
        rows += web_rows(options, pool)
    print_table("Search (ratio: our time over the baseline's; sizes in MB)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
