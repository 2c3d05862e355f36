"""The daemon process as bench/daemon.py sees it: started, its stderr read line by line with
deadlines, its own memory, threads and open files read from /proc, stopped with SIGTERM."""

from __future__ import annotations

import collections
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field

from bench._common import ROOT

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
    #: When the process was started (``time.monotonic()``).
    started_at: float = 0.0
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
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int:
        return self.process.pid

    def sample(self, run: int, source: str, status: str) -> Sample:
        """The process now, after run number ``run``; OSError when it is gone."""
        values = proc_status(self.pid)
        return Sample(
            run=run,
            source=source,
            status=status,
            seconds=time.monotonic() - self.started_at,
            rss_kb=values.get("VmRSS", 0),
            hwm_kb=values.get("VmHWM", 0),
            anon_kb=values.get("RssAnon", 0),
            file_kb=values.get("RssFile", 0),
            threads=values.get("Threads", 0),
            fds=open_fds(self.pid),
        )

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
