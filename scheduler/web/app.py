"""What ``kcna-monitor serve`` answers, whatever serves it (:mod:`scheduler.web.server`).

- ``/metrics``: Prometheus text format (:mod:`scheduler.web.metrics`);
- ``/healthz``: ``200`` with ``{"status": "ok", ...}``, or ``503`` with
  ``{"status": "fail", ...}`` when the database is unreachable or a source is in alarm;
- ``/feed.atom`` and ``/feed/<rule>.atom``: the Atom feeds of :mod:`scheduler.monitor.feed`;
- ``/``: the list of these paths.

Every answer is computed from the database, so it can be served beside the daemon or on its
own. Requests for the same answer that arrive while it is being computed wait for that
computation instead of starting their own (:class:`SharedReads`): a slow database is then
asked once, not once per waiting client, and a client waits at most :data:`WAIT_SECONDS`
before it gets a ``503``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from scheduler.config import MonitoringConfig
from scheduler.monitor.feed import ATOM_TYPE, build_feed
from scheduler.monitor.health import alarms_json
from scheduler.monitor.outbox import utc_now
from scheduler.web.metrics import METRICS_TYPE, render
from storage.db import ping
from storage.errors import StorageError
from storage.repository import Repository

#: How long a request waits for a database read that another request started.
WAIT_SECONDS = 30.0
TEXT_TYPE = "text/plain; charset=utf-8"

T = TypeVar("T")
#: An answer: HTTP status, content type, body.
Answer = tuple[int, str, bytes]


@dataclass
class _Read:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class SharedReads:
    """Concurrent requests for the same answer share one computation of it.

    The first request for a key computes the answer; those arriving before it is done wait
    for it (at most ``wait`` seconds, then :class:`storage.errors.StorageError`) and get the
    same answer, or an error of the same kind. A later request computes a fresh answer.
    """

    def __init__(self, wait: float = WAIT_SECONDS) -> None:
        self.wait = wait
        self._lock = threading.Lock()
        self._running: dict[Hashable, _Read] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            read = self._running.get(key)
            first = read is None
            if read is None:
                read = self._running[key] = _Read()
        if first:
            try:
                read.value = compute()
            except Exception as error:
                read.error = error
                raise
            finally:
                with self._lock:
                    del self._running[key]
                read.done.set()
            return read.value
        if not read.done.wait(self.wait):
            raise StorageError(f"the database did not answer within {self.wait:g} s")
        if isinstance(read.error, StorageError):
            raise StorageError(str(read.error)) from read.error
        if read.error is not None:
            raise RuntimeError(f"{type(read.error).__name__}: {read.error}") from read.error
        return read.value


@dataclass
class WebApp:
    """What the server answers from."""

    repo: Repository
    config: MonitoringConfig
    clock: Callable[[], datetime] = utc_now
    #: Source name -> its archive sweep period, for the sources that sweep (see /metrics).
    sweeps: dict[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shared = SharedReads()

    def answer(self, path: str, host: str | None = None) -> Answer:
        """The answer to a GET of ``path`` (``host``: the request's Host header, for the
        feeds' own URL). Raises :class:`StorageError` when the database cannot answer."""
        if path == "/metrics":
            return 200, METRICS_TYPE, self.shared.get(path, self.metrics).encode()
        if path == "/healthz":
            status, report = self.shared.get(path, self.health)
            return status, "application/json", (json.dumps(report, indent=2) + "\n").encode()
        if path == "/feed.atom" or (path.startswith("/feed/") and path.endswith(".atom")):
            rule = None if path == "/feed.atom" else path[len("/feed/") : -len(".atom")]
            self_url = f"http://{host}{path}" if host else None
            body = self.shared.get((path, self_url), lambda: self.feed(rule, self_url))
            if body is None:
                return 404, TEXT_TYPE, b"no such watch rule\n"
            return 200, ATOM_TYPE, body
        if path == "/":
            names = [f"/feed/{rule.name}.atom" for rule in self.config.watch]
            text = "\n".join(["kcna-monitor", "/metrics", "/healthz", "/feed.atom", *names])
            return 200, TEXT_TYPE, (text + "\n").encode()
        return 404, TEXT_TYPE, b"not found\n"

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            ping(self.repo.engine)
            alarms = self.repo.alarms.active()
        except StorageError as error:
            return 503, {"status": "fail", "database": f"unreachable: {error}", "alarms": []}
        report = {
            "status": "fail" if alarms else "ok",
            "database": "ok",
            "alarms": alarms_json(alarms),
        }
        return (503 if alarms else 200), report

    def metrics(self) -> str:
        return render(self.repo, self.sweeps, self.clock()).decode()

    def feed(self, name: str | None, self_url: str | None) -> bytes | None:
        rule = self.config.rule(name) if name is not None else None
        if name is not None and rule is None:
            return None
        return build_feed(self.repo, now=self.clock(), rule=rule, self_url=self_url)
