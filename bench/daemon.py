"""Daemon memory: the RSS of ``kcna-monitor run`` over many scheduled runs.

The fixture site of bench/_site.py (by default the corpus once, every layout) is served from a
thread on 127.0.0.1. A temporary configuration enables both sources on it, every 1s, no delay,
no AutoThrottle, and the real daemon (``python -m scheduler.cli run``, what ``kcna-monitor
run`` runs) crawls it into a fresh SQLite file: the first run of each source fills the archive,
every later one finds nothing new. After each run the daemon logs, the daemon process's own RSS
is read from /proc/<pid>/status (the crawls run in child processes of their own and are not
counted). After ``--runs`` runs (both sources count) the daemon is stopped with SIGTERM and must
exit 0. Target: the RSS after run 20 grows by at most 10% up to the last run.

    python bench/daemon.py [--runs 200] [--deadline 30]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == HERE:
    sys.path[0] = str(HERE.parent)  # the project's packages, not this folder's scripts

import argparse  # noqa: E402
import collections  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from bench import _site  # noqa: E402
from bench._common import Row, corpus_argument, load_corpus, print_table  # noqa: E402
from bench._daemon import DaemonProcess, Sample, proc_status  # noqa: E402
from replica.server import FixtureServer  # noqa: E402

#: The line the daemon logs when a run ends: "kcna run 3: ok in 5.9s — pages 60, new 20, ...".
RUN_LINE = re.compile(r" \[daemon\] (kcna|kcnawatch) run \d+: (\w+) in ([\d.]+)s")
#: Growth of the RSS after the baseline run allowed up to the last run.
TARGET_GROWTH = 0.10


@dataclass
class Measured:
    """What the daemon did until the last run, the deadline or its own end."""

    samples: list[Sample] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    not_ok: list[str] = field(default_factory=list)  # the log lines of runs that did not end ok
    ended: bool = False  # the daemon stopped by itself
    hwm_kb: int = 0
    exit_code: int | None = None
    stop_seconds: float = 0.0
    tail: list[str] = field(default_factory=list)  # its last log lines
    errors: list[str] = field(default_factory=list)  # its error lines


def toml_string(text: str) -> str:
    return json.dumps(text)  # a TOML basic string


def write_config(
    path: Path, server_url: str, bench: _site.BenchSite, db_url: str, args: argparse.Namespace
) -> None:
    watch = [p for p in bench.start_paths if p.startswith("/newstream/")]
    starts = {"kcna": [p for p in bench.start_paths if p not in watch], "kcnawatch": watch}
    lines = [
        "[database]",
        f"url = {toml_string(db_url)}",
        "[daemon]",
        'stop_grace = "5s"',
    ]
    for name, paths in starts.items():
        urls = ", ".join(toml_string(server_url + p) for p in paths)
        lines += [
            f"[sources.{name}]",
            "enabled = true",
            f"base_url = {toml_string(server_url)}",
            f"start_urls = [{urls}]",
            f"every = {toml_string(args.every)}",
            'jitter = "0s"',
            f"timeout = {toml_string(args.timeout)}",
            'delay = "0s"',
            f"concurrency = {args.concurrency}",
            f"max_pages = {bench.max_pages}",
            f"[sources.{name}.settings]",
            "AUTOTHROTTLE_ENABLED = false",
            f"CONCURRENT_REQUESTS = {args.concurrency}",
            "KCNA_MONITOR_RETRY_BACKOFF = 0",
            "RETRY_TIMES = 1",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def daemon_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "KCNA_MONITOR_DB": "",
        "KCNA_MONITOR_CONFIG": "",
    }


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def parse_options() -> tuple[argparse.Namespace, int]:
    """The command line, and the run the RSS growth is measured from."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpus_argument(parser)
    parser.add_argument(
        "--pages",
        type=int,
        default=0,
        help="article pages on the site, at least (default 0: the corpus once, every layout)",
    )
    parser.add_argument(
        "--runs", type=int, default=200, help="scheduled runs in all, both sources (200)"
    )
    parser.add_argument(
        "--baseline-run",
        type=int,
        default=20,
        help="the run whose RSS growth is measured from (20; half of --runs when that is less"
        " than twice this)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=30.0,
        help="minutes for the whole script; then the daemon is stopped and what was measured"
        " is reported (30)",
    )
    parser.add_argument("--every", default="1s", help="each source's interval (1s)")
    parser.add_argument(
        "--timeout",
        default="60s",
        help="each run's time limit (60s); the first run of each source fills the archive",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight per crawl (16)"
    )
    options = parser.parse_args()
    if options.runs < 2:
        parser.error("--runs must be at least 2")
    baseline_run = options.baseline_run
    if options.runs < 2 * baseline_run:
        baseline_run = max(1, options.runs // 2)
    return options, baseline_run


# -- measure -------------------------------------------------------------------------------


def daemon_command(config: Path, db_url: str) -> list[str]:
    """``kcna-monitor run`` as ``python -m scheduler.cli`` (this checkout's code)."""
    return [
        sys.executable,
        "-m",
        "scheduler.cli",
        "run",
        "--config",
        str(config),
        "--db",
        db_url,
        "--log-level",
        "INFO",
    ]


def measure(options: argparse.Namespace, bench: _site.BenchSite, deadline: float) -> Measured:
    """Serve the site, run the daemon on it until ``options.runs`` runs, the deadline or its
    own end, then stop it with SIGTERM."""
    measured = Measured()
    with (
        tempfile.TemporaryDirectory(prefix="kcna-bench-") as tmp,
        FixtureServer(bench.site) as server,
    ):
        home = Path(tmp)
        db_url = f"sqlite:///{home / 'bench.db'}"
        config = home / "config.toml"
        write_config(config, server.url, bench, db_url, options)
        daemon = DaemonProcess(daemon_command(config, db_url), daemon_env(home))
        print(
            f"daemon: both sources every {options.every}, until {options.runs} runs "
            f"(deadline {options.deadline:g} min) ...",
            flush=True,
        )
        daemon.start()
        try:
            follow_runs(daemon, options.runs, deadline, measured)
            if not measured.ended:
                with contextlib.suppress(OSError):
                    vm_hwm = proc_status(daemon.pid).get("VmHWM", 0)
                    measured.hwm_kb = max(measured.hwm_kb, vm_hwm)
            measured.exit_code, measured.stop_seconds = daemon.stop()
        except BaseException:
            daemon.kill()
            raise
    measured.tail, measured.errors = list(daemon.tail), daemon.errors
    return measured


def follow_runs(daemon: DaemonProcess, runs: int, deadline: float, measured: Measured) -> None:
    """Sample the daemon at each run's log line until ``runs`` runs, the deadline, or the end
    of the daemon."""
    while len(measured.samples) < runs:
        line = daemon.next_line(deadline)
        if line is None:
            measured.ended = daemon.process.poll() is not None or time.monotonic() < deadline
            return
        match = RUN_LINE.search(line)
        if not match:
            continue
        try:
            sample = daemon.sample(len(measured.samples) + 1, match.group(1), match.group(2))
        except OSError:
            measured.ended = True
            return
        measured.statuses[sample.status] += 1
        measured.samples.append(sample)
        if sample.status != "ok":
            measured.not_ok.append(f"run {sample.run}: {line}")
        measured.hwm_kb = max(measured.hwm_kb, sample.hwm_kb)
        if sample.run <= 2 or sample.run % 20 == 0 or sample.run == runs:
            print_run(sample, match.group(3))


def print_run(sample: Sample, took: str) -> None:
    print(
        f"  run {sample.run:>4} ({sample.source} {sample.status}, "
        f"{took}s) at {sample.seconds:6.0f}s: RSS {mb(sample.rss_kb)} "
        f"(anon {mb(sample.anon_kb)}, file {mb(sample.file_kb)}), "
        f"threads {sample.threads}, fds {sample.fds}",
        flush=True,
    )


# -- report --------------------------------------------------------------------------------


def report_problems(measured: Measured, runs: int) -> None:
    """Why the measurement stopped early, the runs that did not end ok, the error lines."""
    if measured.ended:
        print("the daemon stopped by itself; its last lines:")
        print("\n".join(measured.tail))
    elif len(measured.samples) < runs:
        print(f"deadline reached after {len(measured.samples)} of {runs} runs")
    if measured.not_ok:
        print(f"{len(measured.not_ok)} runs did not end ok, the first ones:")
        print("\n".join(measured.not_ok[:10]))
    if measured.errors:
        print(f"{len(measured.errors)} error lines in the daemon's log, the first ones:")
        print("\n".join(measured.errors[:10]))


def runs_row(measured: Measured, runs: int) -> Row:
    status_text = ", ".join(f"{n} {s}" for s, n in measured.statuses.most_common())
    return Row(
        "daemon runs finished (both sources)",
        f"{len(measured.samples)} ({status_text or 'none'})",
        target=f"{runs} (failed runs are listed above)",
        ok=len(measured.samples) >= runs,
    )


def growth_rows(samples: list[Sample], baseline_run: int) -> list[Row]:
    """The RSS growth from ``baseline_run`` to the last run, with threads and open files."""
    if len(samples) < baseline_run:
        return [
            Row(
                f"daemon RSS growth after run {baseline_run}",
                f"not measured ({len(samples)} runs)",
                target=f"≤ {TARGET_GROWTH:.0%}",
                ok=False,
            )
        ]
    base = samples[baseline_run - 1]
    later = samples[baseline_run - 1 :]
    peak = max(later, key=lambda s: s.rss_kb)
    final = samples[-1]
    peak_growth = peak.rss_kb / base.rss_kb - 1
    final_growth = final.rss_kb / base.rss_kb - 1
    target = f"≤ {1 + TARGET_GROWTH:.2f}x"
    return [
        Row(f"daemon RSS after run {baseline_run}", mb(base.rss_kb)),
        Row(
            f"daemon peak RSS after run {baseline_run}",
            f"{mb(peak.rss_kb)} (run {peak.run})",
            mb(base.rss_kb),
            peak.rss_kb / base.rss_kb,
            target,
            peak_growth <= TARGET_GROWTH,
        ),
        Row(
            f"daemon final RSS (run {final.run})",
            mb(final.rss_kb),
            mb(base.rss_kb),
            final.rss_kb / base.rss_kb,
            target,
            final_growth <= TARGET_GROWTH,
        ),
        Row(
            f"growth vs run {baseline_run}",
            f"{final_growth:+.1%} final, {peak_growth:+.1%} peak",
            target=f"≤ {TARGET_GROWTH:.0%}",
            ok=peak_growth <= TARGET_GROWTH and final_growth <= TARGET_GROWTH,
        ),
        *usage_rows(base, final, later, baseline_run),
    ]


def usage_rows(base: Sample, final: Sample, later: list[Sample], baseline_run: int) -> list[Row]:
    return [
        Row(
            "daemon anonymous / file-backed RSS",
            f"{mb(final.anon_kb)} / {mb(final.file_kb)}",
            f"{mb(base.anon_kb)} / {mb(base.file_kb)} (run {baseline_run})",
        ),
        Row(
            "daemon threads",
            f"{final.threads} (max {max(s.threads for s in later)})",
            f"{base.threads} (run {baseline_run})",
        ),
        Row(
            "daemon open files",
            f"{final.fds} (max {max(s.fds for s in later)})",
            f"{base.fds} (run {baseline_run})",
        ),
    ]


def process_rows(measured: Measured, children_max_rss_kb: float, elapsed: float) -> list[Row]:
    """The first run's RSS, the peaks, the exit after SIGTERM and the time taken."""
    rows = []
    if measured.samples:
        rows.append(Row("daemon RSS after run 1", mb(measured.samples[0].rss_kb)))
    return [
        *rows,
        Row("daemon peak RSS (VmHWM)", mb(measured.hwm_kb)),
        # Every process of the daemon's tree, reaped: the largest is a crawl child unless it
        # is no larger than the daemon's own peak above.
        Row("peak RSS of the crawl children (max over all)", mb(children_max_rss_kb)),
        Row(
            "daemon exit after SIGTERM",
            f"{measured.exit_code} in {measured.stop_seconds:.1f}s",
            target="0",
            ok=measured.exit_code == 0,
        ),
        Row("elapsed", f"{elapsed:.0f}s ({elapsed / 60:.1f} min)"),
    ]


def main() -> int:
    options, baseline_run = parse_options()
    started = time.monotonic()
    deadline = started + options.deadline * 60
    records = load_corpus(options.corpus)
    bench = _site.build(records, min_pages=options.pages)
    print(
        f"site: {len(bench.article_paths)} article pages, {bench.listing_pages} listing pages "
        f"in {len(bench.start_paths)} chains; built in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    measured = measure(options, bench, deadline)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = time.monotonic() - started

    report_problems(measured, options.runs)
    rows = [
        runs_row(measured, options.runs),
        *growth_rows(measured.samples, baseline_run),
        *process_rows(measured, children.ru_maxrss, elapsed),
    ]
    print_table("Daemon memory over scheduled runs", rows)
    passed = all(r.ok for r in rows if r.ok is not None)
    print(f"\nresult: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
