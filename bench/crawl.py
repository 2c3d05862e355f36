"""Crawl end to end: a fixture site of 5,000+ article pages, crawled through the real CLI.

The site (bench/_site.py) is rendered from the corpus and served on 127.0.0.1 from a thread of
this process; ``kcna-monitor crawl`` runs in a child process and stores into a fresh SQLite
file. Its pages per second (wall time of the whole command: start-up, crawl, last writes) are
compared with ``scrapy bench`` run right after, for a similar time, on the same machine.
Peak RSS of the crawl process comes from ``os.wait4``.

    python bench/crawl.py [--pages 5000] [--profile crawl.prof]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == HERE:
    sys.path[0] = str(HERE.parent)  # the project's packages, not this folder's scripts

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from bench import _site  # noqa: E402
from bench._common import (  # noqa: E402
    Measured,
    Row,
    corpus_argument,
    load_corpus,
    print_profile,
    print_table,
    run_measured,
    venv_command,
)
from replica.server import FixtureServer  # noqa: E402

TARGET_RATIO = 0.7
TARGET_RSS_MB = 300.0


def scrapy_bench(seconds: int, workdir: Path) -> tuple[float, int, float, Measured]:
    """``scrapy bench`` outside the project (its own default settings): pages/min, pages,
    elapsed seconds and the process."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("SCRAPY_SETTINGS_MODULE", "SCRAPY_PROJECT")
    }
    command = [
        *venv_command("scrapy", "scrapy"),
        "bench",
        "-s",
        f"CLOSESPIDER_TIMEOUT={seconds}",
        "-s",
        "TELNETCONSOLE_ENABLED=False",
        "-s",
        "REMOTE_CONTROL_ENABLED=False",
    ]
    done = run_measured(command, env=env, cwd=workdir, timeout=seconds + 120)
    count = re.search(r"'downloader/response_count': (\d+)", done.stderr)
    elapsed = re.search(r"'elapsed_time_seconds': ([\d.]+)", done.stderr)
    if done.returncode != 0 or not count or not elapsed:
        tail = "\n".join(done.stderr.splitlines()[-20:])
        raise SystemExit(f"scrapy bench failed (exit {done.returncode}):\n{tail}")
    pages, spent = int(count.group(1)), float(elapsed.group(1))
    return pages / spent * 60, pages, spent, done


@dataclass
class CrawlFigures:
    """The crawl command's run and what the local server saw of it."""

    done: Measured
    server_seconds: float  # CPU time of this process (the server thread) during the crawl
    counts: dict[str, int]  # the command's totals
    requests: int
    articles_fetched: int

    @property
    def pages(self) -> int:
        return self.counts.get("pages", 0)

    @property
    def per_second(self) -> float:
        return self.pages / self.done.seconds


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpus_argument(parser)
    parser.add_argument(
        "--pages", type=int, default=5000, help="article pages on the site, at least (5000)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="CONCURRENT_REQUESTS (16)")
    parser.add_argument(
        "--bench-seconds",
        type=int,
        default=0,
        help="also run scrapy bench this long (default: as long as the crawl took, 10 to 60 s)",
    )
    parser.add_argument("--skip-scrapy-bench", action="store_true", help="no baseline")
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="run the crawl under cProfile into FILE"
    )
    return parser.parse_args()


def build_site(options: argparse.Namespace) -> _site.BenchSite:
    records = load_corpus(options.corpus)
    started = time.perf_counter()
    bench = _site.build(records, min_pages=options.pages)
    print(
        f"site: {len(bench.article_paths)} article pages {bench.counts}, "
        f"{bench.listing_pages} listing pages in {len(bench.start_paths)} chains "
        f"(longest {bench.max_pages}), {bench.distinct_articles} distinct articles; "
        f"built in {time.perf_counter() - started:.1f}s"
    )
    return bench


def measure_crawl(
    server: FixtureServer, bench: _site.BenchSite, home: Path, options: argparse.Namespace
) -> CrawlFigures | None:
    """``kcna-monitor crawl`` of the whole site into a fresh SQLite file; None when it failed
    (its output is printed)."""
    db_url = f"sqlite:///{home / 'bench.db'}"
    server_cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(f"crawling {server.url} with kcna-monitor crawl ...", flush=True)
    done = _site.run_crawl(
        server.url,
        bench,
        db_url,
        home,
        concurrency=options.concurrency,
        profile=options.profile,
    )
    after = resource.getrusage(resource.RUSAGE_SELF)
    server_seconds = (after.ru_utime + after.ru_stime) - (server_cpu.ru_utime + server_cpu.ru_stime)
    if done.returncode != 0:
        print(done.stdout)
        print("\n".join(done.stderr.splitlines()[-30:]))
        print(f"the crawl failed (exit {done.returncode})")
        return None
    figures = CrawlFigures(
        done=done,
        server_seconds=server_seconds,
        counts=_site.totals(done.stdout),
        requests=len(bench.site.requests),
        articles_fetched=sum(1 for _, p in bench.site.requests if p in bench.article_paths),
    )
    print(done.stdout.rstrip())
    warnings = [ln for ln in done.stderr.splitlines() if ln.strip()]
    if warnings:
        print(f"{len(warnings)} lines on stderr, the first: {warnings[:3]}")
    return figures


def scrapy_baseline(options: argparse.Namespace, crawl_seconds: float, home: Path) -> float | None:
    """The baseline in pages per minute; None with ``--skip-scrapy-bench``.

    scrapy bench slows down as its queue of links grows: run it at its default length (10 s,
    the usual figure) and for about as long as the crawl took; the faster of the two is the
    baseline."""
    if options.skip_scrapy_bench:
        return None
    bench_rate: float | None = None
    comparable = options.bench_seconds or int(min(60, max(10, round(crawl_seconds))))
    for seconds in sorted({10, comparable}):
        print(f"running scrapy bench for {seconds}s ...", flush=True)
        per_minute, bench_pages, spent, proc = scrapy_bench(seconds, home)
        print(
            f"scrapy bench {seconds}s: {bench_pages} pages in {spent:.1f}s = "
            f"{per_minute:.0f} pages/min, peak RSS {proc.max_rss_mb:.0f} MB"
        )
        bench_rate = max(bench_rate or 0.0, per_minute)
    return bench_rate


def result_rows(
    figures: CrawlFigures, bench_rate: float | None, bench: _site.BenchSite
) -> list[Row]:
    done, ours, counts = figures.done, figures.per_second, figures.counts
    return [
        Row(
            "crawl pages/s (whole command)",
            f"{ours:.1f}",
            "" if bench_rate is None else f"{bench_rate / 60:.1f} (scrapy bench)",
            None if bench_rate is None else ours / (bench_rate / 60),
            f">= {TARGET_RATIO}x",
            None if bench_rate is None else ours / (bench_rate / 60) >= TARGET_RATIO,
        ),
        Row(
            "crawl pages/min", f"{ours * 60:.0f}", "" if bench_rate is None else f"{bench_rate:.0f}"
        ),
        Row(
            "peak RSS of the crawl process",
            f"{done.max_rss_mb:.0f} MB",
            target=f"< {TARGET_RSS_MB:.0f} MB",
            ok=done.max_rss_mb < TARGET_RSS_MB,
        ),
        Row("pages fetched / requests served", f"{figures.pages} / {figures.requests}"),
        Row(
            "article pages fetched / on the site",
            f"{figures.articles_fetched} / {len(bench.article_paths)}",
        ),
        Row(
            "stored: new / unchanged / failed",
            f"{counts.get('new', 0)} / {counts.get('unchanged', 0)} / {counts.get('failed', 0)}",
        ),
        Row("wall time of the crawl command", f"{done.seconds:.1f} s"),
        Row(
            "CPU time: crawler / server thread",
            f"{done.cpu_seconds:.1f} s / {figures.server_seconds:.1f} s",
        ),
    ]


def main() -> int:
    options = parse_options()
    bench = build_site(options)
    with (
        tempfile.TemporaryDirectory(prefix="kcna-bench-") as tmp,
        FixtureServer(bench.site) as server,
    ):
        home = Path(tmp)
        figures = measure_crawl(server, bench, home, options)
        if figures is None:
            return 1
        bench_rate = scrapy_baseline(options, figures.done.seconds, home)
    print_table(
        "Crawl end to end (kcna-monitor crawl vs scrapy bench)",
        result_rows(figures, bench_rate, bench),
    )
    if options.profile is not None:
        print_profile(options.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
