"""The HTTP server of ``kcna-monitor serve``: it answers GET and HEAD from an :class:`App`
(:class:`scheduler.web.app.WebApp`).

It binds to 127.0.0.1 unless told otherwise. Each connection is served in a thread of its
own, and the kernel queues up to :data:`LISTEN_BACKLOG` connections not accepted yet, so a
burst of scrapers and probes is answered rather than refused.
"""

from __future__ import annotations

import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from storage.errors import StorageError

logger = logging.getLogger("web")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9310
#: Connections the kernel holds for the server before it accepts them (the system's limit,
#: ``net.core.somaxconn``, may lower it).
LISTEN_BACKLOG = max(1024, socket.SOMAXCONN)
#: How long a connection may stay silent before the server closes it.
IDLE_SECONDS = 30.0
TEXT_TYPE = "text/plain; charset=utf-8"


class App(Protocol):
    def answer(self, path: str, host: str | None = None) -> tuple[int, str, bytes]:
        """HTTP status, content type and body of a GET of ``path`` (``host``: the request's
        Host header); raises :class:`StorageError` when the database cannot answer."""
        ...


class Handler(BaseHTTPRequestHandler):
    server_version = "kcna-monitor"
    timeout = IDLE_SECONDS
    app: App  # set on the subclass made by make_server

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        try:
            status, content_type, body = self.app.answer(path, self.headers.get("Host"))
        except StorageError as error:
            status, content_type = 503, TEXT_TYPE
            body = f"database unavailable: {error}\n".encode()
        except Exception as error:  # a bug: one line in the log, a 500 to the client
            logger.error("%s %s: %s: %s", self.command, path, type(error).__name__, error)
            status, content_type, body = 500, TEXT_TYPE, b"internal error\n"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class Server(ThreadingHTTPServer):
    """A thread per connection; a listen backlog of :data:`LISTEN_BACKLOG`."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def make_server(
    app: App, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> ThreadingHTTPServer:
    """A server bound to (host, port) (port 0: any free port; see ``server_address``)."""
    handler = type("BoundHandler", (Handler,), {"app": app})
    return Server((host, port), handler)
