"""What the benchmark scripts share: the corpus, the machine, the table of results.

Every script is run by hand as ``python bench/<name>.py``; none of them is part of the test
suite. Each prints one table: figure, baseline, ratio, target, pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from replica.corpus import SAMPLE_CORPUS

ROOT = Path(__file__).resolve().parent.parent
#: The full corpus, next to the repository (``--corpus`` overrides it).
DEFAULT_CORPUS = Path("..") / "shared" / "corpus" / "kcna-en-2024.jsonl"


def corpus_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        metavar="PATH",
        help=f"corpus JSON Lines file, relative to the repository root (default: {DEFAULT_CORPUS})",
    )


def resolve_corpus(path: Path) -> Path:
    """The corpus to use: ``path`` (relative to the repository root), else the bundled sample."""
    resolved = path if path.is_absolute() else ROOT / path
    if resolved.is_file():
        return resolved
    print(
        f"note: corpus {path} not found; using the bundled sample "
        f"{SAMPLE_CORPUS.relative_to(ROOT)} (figures are not comparable with RESULTS.md)"
    )
    return SAMPLE_CORPUS


def load_corpus(path: Path) -> list[dict[str, Any]]:
    with resolve_corpus(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def machine() -> str:
    """One line naming the machine: cores, CPU model, RAM, Python, date."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f", {int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cores} cores ({model}){ram}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {datetime.now(UTC):%Y-%m-%d}"
    )


@dataclass
class Row:
    """One line of a result table. ``ratio``/``target`` None: reported only."""

    figure: str
    value: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None


def print_table(title: str, rows: Sequence[Row]) -> None:
    header = ("figure", "value", "baseline", "ratio", "target", "result")
    lines = [
        (
            r.figure,
            r.value,
            r.baseline,
            "" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            "" if r.ok is None else ("PASS" if r.ok else "FAIL"),
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]
    print()
    print(title)
    print(f"machine: {machine()}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    sys.stdout.flush()


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def best_rate(work: Callable[[], int], *, repeats: int, min_seconds: float = 0.0) -> float:
    """The best of ``repeats`` timed runs of ``work`` (which returns how many things it did)."""
    best = 0.0
    deadline = time.perf_counter() + min_seconds
    done = 0
    while done < repeats or time.perf_counter() < deadline:
        start = time.perf_counter()
        count = work()
        best = max(best, rate(count, time.perf_counter() - start))
        done += 1
    return best


def best_rates(
    works: dict[str, Callable[[], int]], *, repeats: int, min_seconds: float = 0.0
) -> dict[str, float]:
    """Best rate of each work, taking turns so that a change in the machine's load hits them
    all alike."""
    best = dict.fromkeys(works, 0.0)
    deadline = time.perf_counter() + min_seconds * len(works)
    done = 0
    while done < repeats or time.perf_counter() < deadline:
        for name, work in works.items():
            start = time.perf_counter()
            count = work()
            best[name] = max(best[name], rate(count, time.perf_counter() - start))
        done += 1
    return best


@contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the elapsed time in seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


@dataclass
class Measured:
    """A finished child process: exit code, output, wall time, CPU time, peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cpu_seconds: float
    max_rss_mb: float


def run_measured(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600.0,
) -> Measured:
    """Run ``command`` to its end; its own peak RSS and CPU time come from ``os.wait4``."""
    import subprocess
    import tempfile
    import threading

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            seconds=seconds,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            max_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        )


def venv_command(name: str, module: str) -> list[str]:
    """The console script ``name`` installed next to this Python, else ``python -m module``."""
    script = Path(sys.executable).parent / name
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", module]


def print_profile(path: Path, limit: int = 25) -> None:
    """The top functions of a cProfile dump, by own time and by cumulative time."""
    import pstats

    stats = pstats.Stats(str(path))
    stats.strip_dirs()
    for key in ("tottime", "cumulative"):
        print(f"\nprofile: top {limit} functions by {key} ({path})")
        stats.sort_stats(key).print_stats(limit)


def rows_to_json(rows: Sequence[Row]) -> str:
    return json.dumps([r.__dict__ for r in rows], indent=2)


@contextmanager
def pg_schema(admin: str) -> Iterator[tuple[str, str]]:
    """A fresh schema: a SQLAlchemy URL and a libpq URL whose connections use it."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"kcna_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    options = {"options": f"-csearch_path={schema}"}
    url = make_url(admin).update_query_dict(options).render_as_string(hide_password=False)
    try:
        yield url, url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
