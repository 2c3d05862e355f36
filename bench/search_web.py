"""The web figures of the search benchmark (the hook for the web app): measured over HTTP
against a running ``kcna-monitor serve`` given with ``--url``, else reported as skipped.

- ``/api/articles?q=WORD`` under 16 concurrent clients: requests per second, no errors;
  baseline: ``/healthz`` under the same load, in the same run (what the server does for a
  request that does no search);
- the archive page ``/`` and an article page ``/articles/ID`` (``--article-id``, else the
  first edited article the API lists): p95 < 50 ms, against ``/healthz`` one request at a time.

The storage-level halves of the page figures (the same reads, without HTTP) are measured on
every run by bench/search_backend.py.
"""

from __future__ import annotations

import argparse

from bench._common import Row
from bench.search_archive import Pool
from bench.search_http import api_load, find_article, page_times
from bench.search_timing import cases, percentile

TARGET_PAGE_MS = 50.0
#: Requests of each page timed one after the other.
PAGE_REPEATS = 40


def api_words(pool: Pool) -> list[str]:
    """The words the API clients ask for in turn: the benchmark's one-word queries."""
    return [c.query for c in cases(pool) if " " not in c.query and '"' not in c.query]


def _load_row(options: argparse.Namespace, words: list[str]) -> Row:
    clients, seconds, token = options.clients, options.seconds, options.token
    url = options.url
    baseline = api_load(url, "/healthz", [], clients=clients, seconds=seconds, token=token)
    load = api_load(url, "/api/articles", words, clients=clients, seconds=seconds, token=token)
    error = f"; first error: {load.first_error}" if load.first_error else ""
    return Row(
        f"web: /api/articles?q= under {clients} clients",
        f"{load.per_second:,.0f} req/s, {load.errors} errors of {load.ok + load.errors}{error}",
        f"{baseline.per_second:,.0f} req/s (/healthz)",
        load.per_second / baseline.per_second if baseline.per_second else None,
        "no errors",
        load.errors == 0 and load.ok > 0,
    )


def _page_row(options: argparse.Namespace, name: str, path: str, base: list[float]) -> Row:
    times, error = page_times(options.url, path, PAGE_REPEATS, options.token)
    ours, floor = percentile(times, 0.95) * 1000, percentile(base, 0.95) * 1000
    return Row(
        f"web: {name} ({path}), p95",
        f"{ours:.1f} ms" + (f"; {error}" if error else ""),
        f"{floor:.1f} ms (/healthz)",
        ours / floor if floor else None,
        f"< {TARGET_PAGE_MS:.0f} ms",
        ours < TARGET_PAGE_MS and error is None,
    )


def web_rows(options: argparse.Namespace, pool: Pool) -> list[Row]:
    """The web figures, or one row saying they were skipped."""
    if not options.url:
        return [Row("web: /api/articles?q=, /, /articles/ID", "skipped (no --url)")]
    rows = [_load_row(options, api_words(pool))]
    base, _ = page_times(options.url, "/healthz", PAGE_REPEATS, options.token)
    rows.append(_page_row(options, "archive page", "/", base))
    article = options.article_id or find_article(options.url, options.token)
    if article is None:
        rows.append(Row("web: article page", "skipped (no --article-id, none from the API)"))
    else:
        rows.append(_page_row(options, "article page", f"/articles/{article}", base))
    return rows
