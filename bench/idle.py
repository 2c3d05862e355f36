"""Idle run: what a crawl costs when nothing is new.

The fixture site (bench/_site.py, by default the corpus once in all three layouts) is crawled
into a fresh SQLite file, then crawled again unchanged. The requests and bytes the local server
answers during the second crawl, and its wall time, are the figures; the first crawl is the
baseline. Target: one request per start listing page and no article request.

    python bench/idle.py [--pages 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == HERE:
    sys.path[0] = str(HERE.parent)  # the project's packages, not this folder's scripts

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from bench import _site  # noqa: E402
from bench._common import Row, corpus_argument, load_corpus, print_table  # noqa: E402
from replica.server import FixtureServer  # noqa: E402


@dataclass
class Traffic:
    requests: int
    articles: int
    listings: int
    other: int
    bytes_sent: int
    seconds: float
    counts: dict[str, int]


def crawl_once(
    server: FixtureServer, bench: _site.BenchSite, db_url: str, home: Path, concurrency: int
) -> Traffic:
    site = bench.site
    first_request, first_bytes = len(site.requests), site.bytes_sent
    done = _site.run_crawl(server.url, bench, db_url, home, concurrency=concurrency)
    if done.returncode != 0:
        print(done.stdout)
        print("\n".join(done.stderr.splitlines()[-30:]))
        raise SystemExit(f"the crawl failed (exit {done.returncode})")
    print(done.stdout.rstrip())
    with site.lock:
        requests = site.requests[first_request:]
        sent = site.bytes_sent - first_bytes
    articles = sum(1 for _, path in requests if path in bench.article_paths)
    other = sum(1 for _, path in requests if path == "/robots.txt")
    return Traffic(
        requests=len(requests),
        articles=articles,
        listings=len(requests) - articles - other,
        other=other,
        bytes_sent=sent,
        seconds=done.seconds,
        counts=_site.totals(done.stdout),
    )


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpus_argument(parser)
    parser.add_argument(
        "--pages",
        type=int,
        default=0,
        help="article pages on the site, at least (default 0: the corpus once, every layout)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="CONCURRENT_REQUESTS (16)")
    return parser.parse_args()


def measure(bench: _site.BenchSite, concurrency: int) -> tuple[Traffic, Traffic]:
    """The traffic of a first crawl (it fills the archive) and of a second one."""
    with (
        tempfile.TemporaryDirectory(prefix="kcna-bench-") as tmp,
        FixtureServer(bench.site) as server,
    ):
        home = Path(tmp)
        db_url = f"sqlite:///{home / 'bench.db'}"
        print("first crawl (fills the archive) ...", flush=True)
        first = crawl_once(server, bench, db_url, home, concurrency)
        print("second crawl (nothing new) ...", flush=True)
        idle = crawl_once(server, bench, db_url, home, concurrency)
    return first, idle


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def request_rows(first: Traffic, idle: Traffic, starts: int) -> list[Row]:
    return [
        Row(
            "idle run: requests",
            str(idle.requests),
            f"{first.requests} (first crawl)",
            ratio(idle.requests, first.requests),
            f"{starts} (+ robots.txt)",
            idle.requests - idle.other <= starts,
        ),
        Row(
            "idle run: article requests",
            str(idle.articles),
            str(first.articles),
            ratio(idle.articles, first.articles),
            "0",
            idle.articles == 0,
        ),
        Row(
            "idle run: listing requests",
            str(idle.listings),
            str(first.listings),
            ratio(idle.listings, first.listings),
            f"{starts} (1 per start page)",
            idle.listings <= starts,
        ),
        Row("idle run: robots.txt requests", str(idle.other), str(first.other)),
    ]


def cost_rows(first: Traffic, idle: Traffic) -> list[Row]:
    nothing_new = idle.counts.get("new", -1) == 0 and idle.counts.get("changed", -1) == 0
    return [
        Row(
            "idle run: body bytes served",
            f"{idle.bytes_sent / 1e6:.2f} MB",
            f"{first.bytes_sent / 1e6:.2f} MB",
            ratio(idle.bytes_sent, first.bytes_sent),
        ),
        Row(
            "idle run: seconds",
            f"{idle.seconds:.1f}",
            f"{first.seconds:.1f}",
            ratio(idle.seconds, first.seconds),
        ),
        Row(
            "idle run stores nothing new",
            f"new {idle.counts.get('new')}, changed {idle.counts.get('changed')}",
            f"new {first.counts.get('new')}",
            target="new 0, changed 0",
            ok=nothing_new,
        ),
    ]


def main() -> int:
    options = parse_options()
    records = load_corpus(options.corpus)
    started = time.perf_counter()
    bench = _site.build(records, min_pages=options.pages)
    starts = len(bench.start_paths)
    print(
        f"site: {len(bench.article_paths)} article pages, {bench.listing_pages} listing pages "
        f"in {starts} chains; built in {time.perf_counter() - started:.1f}s"
    )
    first, idle = measure(bench, options.concurrency)
    rows = [*request_rows(first, idle, starts), *cost_rows(first, idle)]
    print_table("Idle run (a second crawl of an unchanged site)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
