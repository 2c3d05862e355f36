"""One crawl in a child process, the daemon's way.

The daemon runs the ``kcna-monitor crawl`` command (:func:`crawl_command`) in a child process
(:class:`ChildCrawl`), so a crawl that crashes, hangs or leaks memory takes only its own
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO


def crawl_command(
    source: str,
    *,
    db_url: str,
    run_id: int | None = None,
    base_url: str | None = None,
    proxy: str | None = None,
    start_urls: Sequence[str] = (),
    max_pages: int | None = None,
    settings: Mapping[str, str] | None = None,
    log_level: str = "WARNING",
) -> list[str]:
    """The ``kcna-monitor crawl`` command line a person would type for this crawl."""
    command = [sys.executable, "-m", "scheduler.cli", "crawl", source, "--db", db_url]
    if base_url:
        command += ["--base-url", base_url]
    if proxy:
        command += ["--proxy", proxy]
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
    last_error: str | None = None  # what went wrong, in words (see runlog.ChildLines)

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


class ChildCrawl:
    """Run one crawl command in its own process (and session, so a Ctrl-C in the daemon's
    terminal reaches the daemon only), stopping it at ``timeout`` seconds.

    Stopping is polite first: SIGTERM, on which Scrapy finishes cleanly and the run is
    recorded as interrupted; a second SIGTERM after half of ``kill_after`` seconds; then
    SIGKILL. The child's stderr is passed line by line to ``output`` (the daemon passes a
    :class:`scheduler.daemon.runlog.ChildLines`).
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        timeout: float,
        output: Callable[[str], None],
        kill_after: float = 10.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.timeout = timeout
        self.kill_after = kill_after
        self.output = output
        self.env = dict(env) if env is not None else None
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._stop_at: float | None = None

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
        went wrong)."""
        if stream is None:
            return
        in_traceback = False
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
                self.output(line)
