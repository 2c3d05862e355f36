"""Run one crawl of one or more sources: the code path of ``kcna-monitor crawl``.

Options are checked before anything starts, so a bad value is one clear line, not a
half-started crawl. The crawl itself runs Scrapy in this process; each source's run is
recorded in ``crawl_runs`` by the storing pipeline and summarised here from its stats.

The daemon runs the very same command in a child process (:func:`crawl_command`,
:class:`ChildCrawl`), so a crawl that crashes, hangs or leaks memory takes only its own
process with it; the child is stopped at its time limit, first politely, then for good.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.extract import page_kind
from crawler.spiders.base import SourceSpider, is_http_url
from crawler.spiders.kcna import KcnaSpider
from crawler.spiders.kcnawatch import KcnaWatchSpider
from scheduler.logs import setup_logging
from scheduler.stopping import StopOnSignal

SPIDERS: dict[str, type[SourceSpider]] = {
    KcnaSpider.name: KcnaSpider,
    KcnaWatchSpider.name: KcnaWatchSpider,
}


class OptionError(ValueError):
    """A command-line or configuration value that cannot be used; the message says why."""


@dataclass
class CrawlOptions:
    sources: Sequence[str] = ()
    start_urls: Sequence[str] = ()
    base_url: str | None = None
    max_pages: int | None = None
    db_url: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    log_level: str = "WARNING"
    #: A crawl run recorded already (by the daemon): the crawl of its one source fills it in.
    run_id: int | None = None
    #: Redraw a one-line progress report on stderr (for a terminal).
    progress: bool = False


@dataclass
class SourceSummary:
    source: str
    status: str
    pages: int
    new: int
    changed: int
    unchanged: int
    failures: int
    run_id: int | None
    error: str | None = None  # why the run failed or was interrupted, when it says

    def line(self) -> str:
        return (
            f"{self.source:<10} {self.status:<11} pages {self.pages:>5}  new {self.new:>5}"
            f"  changed {self.changed:>4}  unchanged {self.unchanged:>5}  failed {self.failures:>4}"
        )


def check_url(value: str, what: str) -> str:
    if not is_http_url(value):
        raise OptionError(f"{what}: not an http(s) URL: {value!r}")
    return value


def parse_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise OptionError(f"--set takes NAME=VALUE, got {text!r}")
    return name.strip(), value


def plan(options: CrawlOptions) -> dict[str, list[str]]:
    """Which sources to crawl and the start URLs of each (empty: its default listings)."""
    unknown = [name for name in options.sources if name not in SPIDERS]
    if unknown:
        raise OptionError(f"unknown source {unknown[0]!r} (known: {', '.join(sorted(SPIDERS))})")
    if options.base_url:
        check_url(options.base_url, "--base-url")
    if options.max_pages is not None and options.max_pages < 1:
        raise OptionError(f"--max-pages must be at least 1, got {options.max_pages}")
    if options.run_id is not None and len(set(options.sources)) != 1:
        raise OptionError("--run-id needs exactly one source")
    chosen = list(dict.fromkeys(options.sources))
    starts: dict[str, list[str]] = {name: [] for name in chosen}
    hosts = allowed_hosts(chosen or SPIDERS, options.base_url)
    for url in options.start_urls:
        check_url(url, "--start-url")
        if (urlsplit(url).hostname or "").lower() not in hosts:
            raise OptionError(
                f"--start-url {url}: not on an allowed host (allowed: {', '.join(sorted(hosts))};"
                " a mirror's host with --base-url)"
            )
        owner = source_of(url, chosen or list(SPIDERS), options.base_url)
        if owner is None:
            raise OptionError(
                f"--start-url {url}: not a page of "
                f"{' or '.join(chosen or sorted(SPIDERS))} (a listing or article URL is expected)"
            )
        starts.setdefault(owner, []).append(url)
    if not starts:
        starts = {name: [] for name in SPIDERS}
    return starts


def allowed_hosts(sources: Iterable[str], base_url: str | None) -> set[str]:
    """The hosts a start URL of these sources may be on: theirs, and the mirror's."""
    hosts = {host for name in sources for host in SPIDERS[name].public_hosts}
    if base_url:
        hosts.add((urlsplit(base_url).hostname or "").lower())
    return hosts


def source_of(url: str, candidates: Sequence[str], base_url: str | None) -> str | None:
    """The source a start URL belongs to: by its host, else (a mirror's URL) by its path."""
    host = (urlsplit(url).hostname or "").lower()
    for name in candidates:
        if host in SPIDERS[name].public_hosts:
            return name
    for name in candidates:
        spider = SPIDERS[name]
        path = urlsplit(url)
        public = spider.public_root + path.path + (f"?{path.query}" if path.query else "")
        kind = page_kind(public)
        if kind and kind.startswith(f"{name}-"):
            return name
    if len(candidates) == 1:
        return candidates[0]
    return None


PROGRESS_EXTENSION = "crawler.extensions.progress.ProgressReport"


def build_settings(options: CrawlOptions) -> Settings:
    # The project's settings module by name, not found through scrapy.cfg: the command must
    # work from any folder (a service's working directory is rarely the source tree).
    settings = Settings()
    settings.setmodule(os.environ.get("SCRAPY_SETTINGS_MODULE") or "crawler.settings", "project")
    if options.db_url:
        settings.set("KCNA_MONITOR_DB", options.db_url, priority="cmdline")
    settings.set("LOG_LEVEL", options.log_level, priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # see scheduler.logs
    if options.run_id is not None:
        settings.set("KCNA_MONITOR_RUN_ID", options.run_id, priority="cmdline")
    if options.progress:
        settings.set("KCNA_MONITOR_PROGRESS", True, priority="cmdline")
        extensions = settings.getdict("EXTENSIONS")
        extensions.setdefault(PROGRESS_EXTENSION, 900)
        settings.set("EXTENSIONS", extensions, priority="cmdline")
    for name, value in options.settings.items():
        settings.set(name, value, priority="cmdline")
    return settings


def run_crawl(options: CrawlOptions) -> list[SourceSummary]:
    """Crawl the planned sources once, in this process, and summarise each source's run."""
    starts = plan(options)
    settings = build_settings(options)
    process = CrawlerProcess(settings)
    setup_logging(options.log_level)
    crawlers = []
    for name, urls in starts.items():
        crawler = process.create_crawler(SPIDERS[name])
        kwargs: dict[str, Any] = {}
        if urls:
            kwargs["start_url"] = urls
        if options.base_url:
            kwargs["base_url"] = options.base_url
        if options.max_pages is not None:
            kwargs["max_pages"] = options.max_pages
        process.crawl(crawler, **kwargs)
        crawlers.append((name, crawler))
    StopOnSignal(process, [crawler for _, crawler in crawlers]).install()
    process.start(install_signal_handlers=False)
    return [summarise(name, crawler.stats.get_stats()) for name, crawler in crawlers]


def summarise(source: str, stats: Mapping[str, Any]) -> SourceSummary:
    def count(key: str) -> int:
        return int(stats.get(f"kcna_monitor/{key}", 0))

    pages = int(stats.get("downloader/response_count", 0))
    status = stats.get("kcna_monitor/run_status")
    if status is None:
        status = "failed" if stats.get("finish_reason") != "finished" or not pages else "ok"
    return SourceSummary(
        source=source,
        status=str(status),
        pages=pages,
        new=count("new"),
        changed=count("changed"),
        unchanged=count("unchanged"),
        failures=count("failures"),
        run_id=stats.get("kcna_monitor/run_id"),
        error=stats.get("kcna_monitor/run_error"),
    )


# -- one crawl in a child process (the daemon's way) --------------------------------------


def crawl_command(
    source: str,
    *,
    db_url: str,
    run_id: int | None = None,
    base_url: str | None = None,
    start_urls: Sequence[str] = (),
    max_pages: int | None = None,
    settings: Mapping[str, str] | None = None,
    log_level: str = "WARNING",
) -> list[str]:
    """The ``kcna-monitor crawl`` command line a person would type for this crawl."""
    command = [sys.executable, "-m", "scheduler.cli", "crawl", source, "--db", db_url]
    if base_url:
        command += ["--base-url", base_url]
    for url in start_urls:
        command += ["--start-url", url]
    if max_pages is not None:
        command += ["--max-pages", str(max_pages)]
    for name, value in (settings or {}).items():
        command += ["--set", f"{name}={value}"]
    command += ["--log-level", log_level]
    if run_id is not None:
        command += ["--run-id", str(run_id), "--exit-with-parent"]
    return command


def exit_with_parent() -> None:
    """Stop this crawl cleanly (as on SIGTERM) when the process that started it goes away.

    The daemon gives its child a pipe as stdin and never writes to it; the pipe closes when
    the daemon exits however it exits, even killed, and an orphaned crawl must not go on.
    """

    def watch() -> None:
        # The raw descriptor, not sys.stdin: a thread blocked in a buffered read would hold
        # its lock when the interpreter shuts down.
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


@dataclass(frozen=True)
class ChildResult:
    """How a crawl in a child process ended."""

    returncode: int
    seconds: float
    timed_out: bool = False  # it ran past its time limit and was stopped
    stopped: bool = False  # it was stopped because the daemon is stopping
    killed: bool = False  # it did not stop when asked and was killed
    last_error: str | None = None  # the last error line it printed

    def describe_exit(self) -> str:
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            text = f"crawl was killed by {name}"
        else:
            text = f"crawl exited with code {self.returncode}"
        return f"{text}: {self.last_error}" if self.last_error else text


def _is_error_line(line: str) -> bool:
    return " ERROR " in line or " CRITICAL " in line or ": error: " in line


class ChildCrawl:
    """Run one crawl command in its own process (and session, so a Ctrl-C in the daemon's
    terminal reaches the daemon only), stopping it at ``timeout`` seconds.

    Stopping is polite first: SIGTERM, on which Scrapy finishes cleanly and the run is
    recorded as interrupted; a second SIGTERM after half of ``kill_after`` seconds; then
    SIGKILL. The child's stderr is passed line by line to ``output`` (the daemon's stderr).
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        timeout: float,
        kill_after: float = 10.0,
        output: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.timeout = timeout
        self.kill_after = kill_after
        self.output = output or _to_stderr
        self.env = dict(env) if env is not None else None
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._stop_at: float | None = None
        self._last_error: str | None = None

    def request_stop(self, grace: float) -> None:
        """Let the crawl go on for at most ``grace`` more seconds (any thread)."""
        with self._lock:
            stop_at = time.monotonic() + max(grace, 0.0)
            if self._stop_at is None or stop_at < self._stop_at:
                self._stop_at = stop_at
        self._wake.set()

    def run(self) -> ChildResult:
        """Run the command to its end; OSError when it cannot be started at all."""
        started = time.monotonic()
        process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=self.env,
        )
        reader = threading.Thread(
            target=self._read, args=(process.stderr,), name="crawl-stderr", daemon=True
        )
        waiter = threading.Thread(
            target=self._await_exit, args=(process,), name="crawl-wait", daemon=True
        )
        reader.start()
        waiter.start()
        timed_out = stopped = killed = False
        deadline = started + self.timeout
        try:
            while True:
                self._wake.clear()
                if process.poll() is not None:
                    break
                with self._lock:
                    stop_at = self._stop_at
                now = time.monotonic()
                limit = deadline if stop_at is None else min(deadline, stop_at)
                if now >= limit:
                    timed_out = now >= deadline
                    stopped = not timed_out
                    killed = self._terminate(process)
                    break
                self._wake.wait(limit - now)
        finally:
            if process.poll() is None:  # an exception in this thread: leave nothing behind
                self._signal(process, signal.SIGKILL)
                process.wait()
            if process.stdin is not None:
                process.stdin.close()
            waiter.join()
            reader.join(timeout=5)
        return ChildResult(
            returncode=process.returncode,
            seconds=time.monotonic() - started,
            timed_out=timed_out,
            stopped=stopped,
            killed=killed,
            last_error=self._last_error,
        )

    def _terminate(self, process: subprocess.Popen[bytes]) -> bool:
        """SIGTERM, SIGTERM again, SIGKILL; True when it had to be killed."""
        for sig, wait in (
            (signal.SIGTERM, self.kill_after / 2),
            (signal.SIGTERM, self.kill_after / 2),
        ):
            self._signal(process, sig)
            try:
                process.wait(timeout=wait)
                return False
            except subprocess.TimeoutExpired:
                continue
        self._signal(process, signal.SIGKILL)
        process.wait()
        return True

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    def _await_exit(self, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self._wake.set()

    def _read(self, stream: IO[bytes] | None) -> None:
        """Pass the child's lines on, tracebacks folded away (the line after one says what
        went wrong); remember the last error line."""
        if stream is None:
            return
        in_traceback = False
        logged_error: str | None = None
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                if line.startswith("Traceback (most recent call last)"):
                    in_traceback = True
                    continue
                if in_traceback:
                    if not line.strip() or line[:1].isspace():
                        continue
                    in_traceback = False
                    continue  # its last line, "ErrorType: message", is logged after it
                if not line.strip() or line.startswith("Unhandled error in Deferred"):
                    continue
                if ": error: " in line:
                    message = line.split(": error: ", 1)[1].strip()
                    if logged_error is None or not message.startswith("nothing could be"):
                        self._last_error = message[:300]
                elif _is_error_line(line):
                    logged_error = line.split("] ", 1)[-1].strip()[:300]
                    self._last_error = logged_error
                self.output(line)


def _to_stderr(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
