"""A small HTTP server for operators and readers (``kcna-monitor serve``).

- ``/metrics``: Prometheus text format (version 0.0.4): runs, pages, articles and
  failures per source, article events by kind, last successful run per source, the
  notification outbox by status, active alarms, whether the database answers;
- ``/healthz``: ``200`` with ``{"status": "ok", ...}``, or ``503`` with
  ``{"status": "fail", ...}`` when the database is unreachable or a source is in alarm;
- ``/feed.atom`` and ``/feed/<rule>.atom``: the Atom feeds of :mod:`scheduler.monitor.feed`.

It binds to 127.0.0.1 unless told otherwise; every answer is computed from the database,
so it can run beside the daemon or on its own.

Each connection is served in a thread of its own, and the kernel queues up to
:data:`LISTEN_BACKLOG` connections not accepted yet, so a burst of scrapers and probes is
answered rather than refused. Requests for the same answer that arrive while it is being
computed wait for that computation instead of starting their own (:class:`SharedReads`): a
slow database is then asked once, not once per waiting client, and a client waits at most
:data:`WAIT_SECONDS` before it gets a ``503``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from scheduler.monitor.feed import ATOM_TYPE, build_feed
from scheduler.monitor.health import alarms_json
from scheduler.monitor.outbox import MonitoringConfig, utc_now
from storage.errors import StorageError
from storage.monitor import MonitorStore

logger = logging.getLogger("web")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9310
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Connections the kernel holds for the server before it accepts them (the system's limit,
#: ``net.core.somaxconn``, may lower it).
LISTEN_BACKLOG = max(1024, socket.SOMAXCONN)
#: How long a request waits for a database read that another request started.
WAIT_SECONDS = 30.0
#: How long a connection may stay silent before the server closes it.
IDLE_SECONDS = 30.0

T = TypeVar("T")


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
    """What the server answers from. ``repo`` is a :class:`storage.repository.Repository`."""

    repo: Any
    config: MonitoringConfig
    clock: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        self.store = MonitorStore(self.repo.engine)
        self.shared = SharedReads()

    # -- /healthz ------------------------------------------------------------------------

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            self.store.ping()
            alarms = self.store.active_alarms()
        except StorageError as error:
            return 503, {"status": "fail", "database": f"unreachable: {error}", "alarms": []}
        report = {
            "status": "fail" if alarms else "ok",
            "database": "ok",
            "alarms": alarms_json(alarms),
        }
        return (503 if alarms else 200), report

    # -- /metrics ------------------------------------------------------------------------

    def metrics(self) -> str:
        lines: list[str] = []
        try:
            self.store.ping()
        except StorageError:
            _family(lines, "database_up", "gauge", "Whether the database answered.", [({}, 0)])
            return "\n".join(lines) + "\n"
        _family(lines, "database_up", "gauge", "Whether the database answered.", [({}, 1)])
        totals = self.store.run_totals()
        _family(
            lines,
            "runs_total",
            "counter",
            "Crawl runs, by source and final status.",
            [({"source": t.source, "status": t.status}, t.runs) for t in totals],
        )
        by_source: dict[str, dict[str, int]] = {}
        for t in totals:
            sums = by_source.setdefault(
                t.source, dict.fromkeys(("pages", "new", "changed", "unchanged", "failures"), 0)
            )
            for key in sums:
                sums[key] += getattr(t, key)
        _family(
            lines,
            "pages_total",
            "counter",
            "Pages fetched by crawl runs.",
            [({"source": s}, v["pages"]) for s, v in sorted(by_source.items())],
        )
        _family(
            lines,
            "articles_total",
            "counter",
            "Articles stored by crawl runs, by outcome (new, changed, unchanged).",
            [
                ({"source": s, "outcome": outcome}, v[outcome])
                for s, v in sorted(by_source.items())
                for outcome in ("new", "changed", "unchanged")
            ],
        )
        _family(
            lines,
            "failures_total",
            "counter",
            "Pages that could not be fetched or parsed.",
            [({"source": s}, v["failures"]) for s, v in sorted(by_source.items())],
        )
        events = self.store.event_counts()
        _family(
            lines,
            "article_events_total",
            "counter",
            "Article events: new, edited, gone, back.",
            [({"kind": k}, events.get(k, 0)) for k in ("new", "edited", "gone", "back")],
        )
        _family(
            lines,
            "articles_stored",
            "gauge",
            "Articles in the archive.",
            [({}, self.repo.count_articles())],
        )
        _family(
            lines,
            "last_success_timestamp_seconds",
            "gauge",
            "When the latest successful run of each source finished (Unix time).",
            [
                ({"source": s}, round(moment.timestamp(), 3))
                for s, moment in sorted(self.store.last_success().items())
            ],
        )
        outbox = self.store.outbox_counts()
        _family(
            lines,
            "notifications",
            "gauge",
            "Notifications in the outbox, by status (pending is the queue).",
            [({"status": k}, n) for k, n in outbox.items()],
        )
        _family(
            lines,
            "source_alarm",
            "gauge",
            "Active health alarms (1 per source and alarm).",
            [({"source": a.source, "alarm": a.kind}, 1) for a in self.store.active_alarms()],
        )
        return "\n".join(lines) + "\n"

    # -- feeds ---------------------------------------------------------------------------

    def feed(self, rule: str | None, self_url: str | None) -> bytes | None:
        if rule is not None and self.config.rule(rule) is None:
            return None
        return build_feed(self.repo, self.store, now=self.clock(), rule=rule, self_url=self_url)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(
    lines: list[str],
    name: str,
    kind: str,
    help_text: str,
    samples: Iterable[tuple[dict[str, str], float]],
) -> None:
    full = f"kcna_monitor_{name}"
    lines.append(f"# HELP {full} {help_text}")
    lines.append(f"# TYPE {full} {kind}")
    for labels, value in samples:
        shown = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        number = str(int(value)) if float(value).is_integer() else repr(float(value))
        lines.append(f"{full}{{{shown}}} {number}" if shown else f"{full} {number}")


class Handler(BaseHTTPRequestHandler):
    server_version = "kcna-monitor"
    timeout = IDLE_SECONDS
    app: WebApp  # set on the subclass made by make_server

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        try:
            status, content_type, body = self._route(path)
        except StorageError as error:
            status, content_type = 503, "text/plain; charset=utf-8"
            body = f"database unavailable: {error}\n".encode()
        except Exception as error:  # a bug: one line in the log, a 500 to the client
            logger.error("%s %s: %s: %s", self.command, path, type(error).__name__, error)
            status, content_type, body = 500, "text/plain; charset=utf-8", b"internal error\n"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _route(self, path: str) -> tuple[int, str, bytes]:
        app = self.app
        if path == "/metrics":
            return 200, METRICS_TYPE, app.shared.get(path, app.metrics).encode()
        if path == "/healthz":
            status, report = app.shared.get(path, app.health)
            return status, "application/json", (json.dumps(report, indent=2) + "\n").encode()
        if path == "/feed.atom" or (path.startswith("/feed/") and path.endswith(".atom")):
            rule = None if path == "/feed.atom" else path[len("/feed/") : -len(".atom")]
            host = self.headers.get("Host")
            self_url = f"http://{host}{path}" if host else None
            body = app.shared.get((path, self_url), lambda: app.feed(rule, self_url))
            if body is None:
                return 404, "text/plain; charset=utf-8", b"no such watch rule\n"
            return 200, ATOM_TYPE, body
        if path == "/":
            names = [f"/feed/{rule.name}.atom" for rule in app.config.watch]
            text = "\n".join(["kcna-monitor", "/metrics", "/healthz", "/feed.atom", *names])
            return 200, "text/plain; charset=utf-8", (text + "\n").encode()
        return 404, "text/plain; charset=utf-8", b"not found\n"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class Server(ThreadingHTTPServer):
    """A thread per connection; a listen backlog of :data:`LISTEN_BACKLOG`."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def make_server(
    app: WebApp, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> ThreadingHTTPServer:
    """A server bound to (host, port) (port 0: any free port; see ``server_address``)."""
    handler = type("BoundHandler", (Handler,), {"app": app})
    return Server((host, port), handler)


def start_in_thread(
    app: WebApp, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve in a background thread (for ``run --metrics-port``); stop with
    ``server.shutdown(); server.server_close()``."""
    server = make_server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, name="web", daemon=True)
    thread.start()
    return server, thread
