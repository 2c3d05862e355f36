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
import select  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from bench import _site  # noqa: E402
from bench._common import ROOT, Row, corpus_argument, load_corpus, print_table  # noqa: E402
from replica.server import FixtureServer  # noqa: E402

#: The line the daemon logs when a run ends: "kcna: ok in 5.9s — pages 60, new 20, ...".
RUN_LINE = re.compile(r" \[daemon\] (kcna|kcnawatch): (\w+) in ([\d.]+)s")
#: Growth of the RSS after the baseline run allowed up to the last run.
TARGET_GROWTH = 0.10
#: How long the daemon may take to exit after SIGTERM (stop_grace 5s, then the crawl is
#: asked to stop, then killed after 10s) before it is killed.
STOP_LIMIT = 30.0
STATUS_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads")


@dataclass
class Sample:
    """The daemon process after one finished run."""

    run: int
    source: str
    status: str
    seconds: float  # since the daemon started
    rss_kb: int
    hwm_kb: int
    anon_kb: int
    file_kb: int
    threads: int
    fds: int


def proc_status(pid: int) -> dict[str, int]:
    """The numeric fields of /proc/<pid>/status this script reads (kB for memory)."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in STATUS_FIELDS:
                values[name] = int(rest.split()[0])
    return values


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


@dataclass
class DaemonProcess:
    """The daemon and its stderr, read line by line with deadlines (no polling)."""

    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] = field(init=False)
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=60))
    errors: list[str] = field(default_factory=list)
    _buffer: bytes = b""
    _pending: collections.deque[str] = field(default_factory=collections.deque)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,  # a Ctrl-C here reaches this script only; it stops the daemon
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self, until: float) -> bool:
        """Read what is there, waiting at most until ``until``; False at the end of stderr."""
        stream = self.process.stderr
        assert stream is not None
        ready, _, _ = select.select([stream], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            return True
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            if self._buffer:
                self._line(self._buffer.decode("utf-8", "replace"))
                self._buffer = b""
            return False
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        for raw in complete:
            self._line(raw.decode("utf-8", "replace"))
        return True

    def _line(self, line: str) -> None:
        self.tail.append(line)
        if "Traceback" in line or " ERROR " in line or " CRITICAL " in line:
            self.errors.append(line)
        self._pending.append(line)

    def next_line(self, until: float) -> str | None:
        """The next line of stderr; None at ``until`` or at the end of the stream."""
        while not self._pending:
            if time.monotonic() >= until or not self._read(until):
                return None
        return self._pending.popleft()

    def stop(self, limit: float = STOP_LIMIT) -> tuple[int, float]:
        """SIGTERM, read stderr to its end, reap; (exit code, seconds). Killed after ``limit``:
        exit code -9."""
        began = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        deadline = began + limit
        while self.next_line(deadline) is not None:
            pass
        try:
            code = self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
            self.tail.append(f"(killed: no exit within {limit:.0f}s of SIGTERM)")
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code, time.monotonic() - began

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


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


def main() -> int:
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

    started = time.monotonic()
    deadline = started + options.deadline * 60
    records = load_corpus(options.corpus)
    bench = _site.build(records, min_pages=options.pages)
    print(
        f"site: {len(bench.article_paths)} article pages, {bench.listing_pages} listing pages "
        f"in {len(bench.start_paths)} chains; built in {time.monotonic() - started:.1f}s",
        flush=True,
    )

    samples: list[Sample] = []
    statuses: collections.Counter[str] = collections.Counter()
    not_ok: list[str] = []  # the log lines of runs that did not end ok
    exit_code: int | None = None
    stop_seconds = 0.0
    daemon_hwm_kb = 0
    with (
        tempfile.TemporaryDirectory(prefix="kcna-bench-") as tmp,
        FixtureServer(bench.site) as server,
    ):
        home = Path(tmp)
        db_url = f"sqlite:///{home / 'bench.db'}"
        config = home / "config.toml"
        write_config(config, server.url, bench, db_url, options)
        command = [
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
        daemon = DaemonProcess(command, daemon_env(home))
        print(
            f"daemon: both sources every {options.every}, until {options.runs} runs "
            f"(deadline {options.deadline:g} min) ...",
            flush=True,
        )
        daemon.start()
        daemon_started = time.monotonic()
        ended = False
        try:
            while len(samples) < options.runs:
                line = daemon.next_line(deadline)
                if line is None:
                    ended = daemon.process.poll() is not None or time.monotonic() < deadline
                    break
                match = RUN_LINE.search(line)
                if not match:
                    continue
                try:
                    status = proc_status(daemon.pid)
                except OSError:
                    ended = True
                    break
                statuses[match.group(2)] += 1
                sample = Sample(
                    run=len(samples) + 1,
                    source=match.group(1),
                    status=match.group(2),
                    seconds=time.monotonic() - daemon_started,
                    rss_kb=status.get("VmRSS", 0),
                    hwm_kb=status.get("VmHWM", 0),
                    anon_kb=status.get("RssAnon", 0),
                    file_kb=status.get("RssFile", 0),
                    threads=status.get("Threads", 0),
                    fds=open_fds(daemon.pid),
                )
                samples.append(sample)
                if sample.status != "ok":
                    not_ok.append(f"run {sample.run}: {line}")
                daemon_hwm_kb = max(daemon_hwm_kb, sample.hwm_kb)
                if sample.run <= 2 or sample.run % 20 == 0 or sample.run == options.runs:
                    print(
                        f"  run {sample.run:>4} ({sample.source} {sample.status}, "
                        f"{match.group(3)}s) at {sample.seconds:6.0f}s: RSS {mb(sample.rss_kb)} "
                        f"(anon {mb(sample.anon_kb)}, file {mb(sample.file_kb)}), "
                        f"threads {sample.threads}, fds {sample.fds}",
                        flush=True,
                    )
            if not ended:
                with contextlib.suppress(OSError):
                    daemon_hwm_kb = max(daemon_hwm_kb, proc_status(daemon.pid).get("VmHWM", 0))
            exit_code, stop_seconds = daemon.stop()
        except BaseException:
            daemon.kill()
            raise
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = time.monotonic() - started

    if ended:
        print("the daemon stopped by itself; its last lines:")
        print("\n".join(daemon.tail))
    elif len(samples) < options.runs:
        print(f"deadline reached after {len(samples)} of {options.runs} runs")
    if not_ok:
        print(f"{len(not_ok)} runs did not end ok, the first ones:")
        print("\n".join(not_ok[:10]))
    if daemon.errors:
        print(f"{len(daemon.errors)} error lines in the daemon's log, the first ones:")
        print("\n".join(daemon.errors[:10]))

    done = len(samples)
    complete = done >= options.runs
    status_text = ", ".join(f"{n} {s}" for s, n in statuses.most_common())
    rows = [
        Row(
            "daemon runs finished (both sources)",
            f"{done} ({status_text or 'none'})",
            target=f"{options.runs} (failed runs are listed above)",
            ok=complete,
        )
    ]
    memory_ok: bool | None = None
    if done >= baseline_run:
        base = samples[baseline_run - 1]
        later = samples[baseline_run - 1 :]
        peak = max(later, key=lambda s: s.rss_kb)
        final = samples[-1]
        peak_growth = peak.rss_kb / base.rss_kb - 1
        final_growth = final.rss_kb / base.rss_kb - 1
        memory_ok = peak_growth <= TARGET_GROWTH and final_growth <= TARGET_GROWTH
        target = f"≤ {1 + TARGET_GROWTH:.2f}x"
        rows += [
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
                ok=memory_ok,
            ),
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
    else:
        rows.append(
            Row(
                f"daemon RSS growth after run {baseline_run}",
                f"not measured ({done} runs)",
                target=f"≤ {TARGET_GROWTH:.0%}",
                ok=False,
            )
        )
    if samples:
        rows.append(Row("daemon RSS after run 1", mb(samples[0].rss_kb)))
    rows += [
        Row("daemon peak RSS (VmHWM)", mb(daemon_hwm_kb)),
        # Every process of the daemon's tree, reaped: the largest is a crawl child unless it
        # is no larger than the daemon's own peak above.
        Row("peak RSS of the crawl children (max over all)", mb(children.ru_maxrss)),
        Row(
            "daemon exit after SIGTERM",
            f"{exit_code} in {stop_seconds:.1f}s",
            target="0",
            ok=exit_code == 0,
        ),
        Row("elapsed", f"{elapsed:.0f}s ({elapsed / 60:.1f} min)"),
    ]
    print_table("Daemon memory over scheduled runs", rows)
    passed = all(r.ok for r in rows if r.ok is not None)
    print(f"\nresult: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
