"""The web figures of the search benchmark: measured over HTTP against ``kcna-monitor serve``,
started by the benchmark on each archive it measures (:func:`served`), or a running one given
with ``--url``.

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
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from bench._common import ROOT, Row
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


#: Seconds ``serve`` may take to start and say where it listens.
START_TIMEOUT = 60.0
_SERVING = re.compile(r"serving the archive at (http://\S+?)/? ")


@contextmanager
def served(db_url: str) -> Iterator[str]:
    """``kcna-monitor serve`` on the archive ``db_url``, on a free port of 127.0.0.1, for as
    long as the block runs; its base URL."""
    command = [sys.executable, "-m", "scheduler.cli", "serve", "--port", "0", "--db", db_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as server:
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            found = _SERVING.search(first)
            if found is None:
                raise RuntimeError(f"serve did not start: {first.strip() or 'no output'}")
            yield found.group(1)
        finally:
            server.terminate()
            try:
                server.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()


def served_rows(
    label: str, db_url: str, options: argparse.Namespace, pool: Pool, article_id: str | None
) -> list[Row]:
    """The web figures of ``serve`` started on the archive ``db_url`` (one of the benchmark's),
    each row's name starting with ``label``."""
    try:
        with served(db_url) as url:
            chosen = replace_url(options, url, article_id)
            rows = web_rows(chosen, pool)
    except (OSError, RuntimeError) as error:
        return [Row(f"{label}: web", f"skipped ({error})")]
    return [replace(row, figure=f"{label}: {row.figure}") for row in rows]


def replace_url(
    options: argparse.Namespace, url: str, article_id: str | None
) -> argparse.Namespace:
    chosen = argparse.Namespace(**vars(options))
    chosen.url, chosen.token = url, None
    chosen.article_id = options.article_id or article_id
    return chosen


def web_rows(options: argparse.Namespace, pool: Pool) -> list[Row]:
    """The web figures of the server at ``options.url``, or one row saying they were
    skipped."""
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
