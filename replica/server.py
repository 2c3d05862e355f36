"""Serving a rebuilt site on 127.0.0.1: :class:`FixtureSite` (what each path answers, POST
handlers for form-paged lists, held requests and the request log) and :class:`FixtureServer`
(an HTTP server for it in a background thread).

Tests change the site while it is served (edit, add, remove pages, hold a request) and read its
request log. The server hands out a session cookie, tells :meth:`FixtureSite.answer` whether a
request carried it, and answers ETags and ``If-None-Match``.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

HTML = "text/html; charset=utf-8"
SESSION_COOKIE = "JSESSIONID"
SESSION_VALUE = "fixture-session"
#: The longest a held request waits (a test that forgets to release one still ends).
HOLD_LIMIT = 60.0
#: Seconds between the serving thread's looks for a shutdown request (socketserver's default,
#: half a second, is what stopping the server would otherwise wait).
SHUTDOWN_POLL = 0.01


@dataclass
class Page:
    """What a path answers: body, content type and status."""

    body: bytes
    content_type: str = HTML
    status: int = 200


@dataclass
class Hold:
    """A request held by the site: ``arrived`` is set when it comes, ``released`` lets it go."""

    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


@dataclass
class FixtureSite:
    """Paths and what they answer; POST handlers for form-paged lists; a log of requests."""

    pages: dict[str, Page] = field(default_factory=dict)
    posts: dict[str, Callable[[Mapping[str, str], bool], Page]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    holds: dict[str, Hold] = field(default_factory=dict)

    def hold(self, path: str) -> Hold:
        """Make requests of ``path`` wait until the returned hold is released."""
        held = Hold()
        with self.lock:
            self.holds[path] = held
        return held

    def count_bytes(self, count: int) -> None:
        """Add ``count`` to the bytes sent."""
        with self.lock:
            self.bytes_sent += count

    def put(self, path: str, html: str, *, status: int = 200) -> None:
        """Serve ``html`` at ``path``."""
        with self.lock:
            self.pages[path] = Page(html.encode("utf-8"), HTML, status)

    def remove(self, path: str) -> None:
        """Stop serving ``path`` (it answers 404)."""
        with self.lock:
            self.pages.pop(path, None)

    def answer(self, method: str, path: str, form: Mapping[str, str], cookie: bool) -> Page:
        """What a request answers (after its hold, if any), logged in :attr:`requests`."""
        with self.lock:
            held = self.holds.get(path)
        if held is not None:
            held.arrived.set()
            held.released.wait(HOLD_LIMIT)
        with self.lock:
            # A form-paged list logs the page asked for: "/en/article/list/<id>#page_num=3".
            page_num = form.get("page_num") if method == "POST" else None
            self.requests.append((method, f"{path}#page_num={page_num}" if page_num else path))
            if method == "POST" and path in self.posts:
                return self.posts[path](form, cookie)
            page = self.pages.get(path)
        if page is None:
            return Page(b"<html><body><h1>404 Not Found</h1></body></html>", HTML, 404)
        return page


class _Handler(BaseHTTPRequestHandler):
    site: FixtureSite
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        cookie = f"{SESSION_COOKIE}={SESSION_VALUE}" in (self.headers.get("Cookie") or "")
        page = self.site.answer(method, self.path, form, cookie)
        etag = f'"{hashlib.sha1(page.body).hexdigest()[:20]}"'
        fresh = method != "POST" and page.status == 200
        not_modified = fresh and self.headers.get("If-None-Match") == etag
        body = b"" if not_modified or method == "HEAD" else page.body
        self.send_response(304 if not_modified else page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(body)))
        if fresh:
            self.send_header("ETag", etag)
        if not cookie:
            self.send_header("Set-Cookie", f"{SESSION_COOKIE}={SESSION_VALUE}; Path=/")
        self.end_headers()
        self.wfile.write(body)
        self.site.count_bytes(len(body))

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler that hangs up (stopped, killed) is no news; anything else is.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FixtureServer:
    """Serve a :class:`FixtureSite` on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, site: FixtureSite, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"site": site})
        self.httpd = _Server((host, port), handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(SHUTDOWN_POLL,), daemon=True
        )

    @property
    def url(self) -> str:
        """The server's root URL, ``http://127.0.0.1:<port>``."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FixtureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
