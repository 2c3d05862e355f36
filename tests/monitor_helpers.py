"""Helpers of the monitoring tests: a settable clock, a webhook receiver, a webhook that
never answers and an SMTP server on 127.0.0.1, and the rules the tests watch with.

Nothing sleeps: time is the :class:`Clock`'s, and servers are waited for on events with
timeouts.
"""

from __future__ import annotations

import base64
import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs

from scheduler.config import validate

#: How often a server's thread looks for a shutdown request: its close waits up to that long
#: (socketserver's default is half a second).
SHUTDOWN_POLL = 0.01


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def monitoring(rules: list[dict[str, Any]], **sections: Any) -> Any:  # a MonitoringConfig
    return validate({"watch": rules, **sections}).monitoring


# -- webhook receiver --------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        server: Any = self.server
        status, location = server.routes.get(self.path, (server.answer_status, None))
        post = {"path": self.path, "headers": dict(self.headers), **_decoded(self.headers, body)}
        with server.changed:
            server.requests.append({**post, "status": status})
            if status < 300:
                server.received.append(post)
            server.changed.notify_all()
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()
        server.got.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _decoded(headers: Any, body: bytes) -> dict[str, Any]:
    """``json`` (a JSON body, else None) and ``form`` (the fields of a form, else None)."""
    kind = headers.get_content_type()
    form = parse_qs(body.decode()) if kind == "application/x-www-form-urlencoded" else None
    return {"json": None if form is not None else json.loads(body), "form": form}


class WebhookReceiver:
    """An HTTP server whose port is reserved (bound) from the start but refuses connections
    until :meth:`start` (the socket listens only then)."""

    def __init__(self) -> None:
        self.server = HTTPServer(("127.0.0.1", 0), _Hook, bind_and_activate=False)
        self.server.server_bind()  # the port is ours; connections are refused until start
        self.server.received = []  # type: ignore[attr-defined]
        self.server.requests = []  # type: ignore[attr-defined]
        self.server.routes = {}  # type: ignore[attr-defined]
        self.server.answer_status = 204  # type: ignore[attr-defined]
        self.server.got = threading.Event()  # type: ignore[attr-defined]
        self.server.changed = threading.Condition()  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.url_for("/hook")

    def url_for(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    @property
    def received(self) -> list[dict[str, Any]]:
        """The posts answered 2xx: path, headers, and the JSON body (``json``) or the fields
        of a form (``form``)."""
        return self.server.received  # type: ignore[attr-defined]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every post, whatever it was answered (``status``), in order."""
        return self.server.requests  # type: ignore[attr-defined]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The JSON bodies received, once there are at least ``count`` of them."""
        changed: threading.Condition = self.server.changed  # type: ignore[attr-defined]
        with changed:
            arrived = changed.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"{len(self.received)} posts received, expected {count}"
            return [post["json"] for post in self.received]

    def answer(self, status: int) -> None:
        self.server.answer_status = status  # type: ignore[attr-defined]

    def route(self, path: str, status: int | None, location: str | None = None) -> None:
        """Answer posts to ``path`` with ``status`` (and a ``Location`` header when given);
        None: as the other paths again."""
        routes: dict[str, tuple[int, str | None]] = self.server.routes  # type: ignore[attr-defined]
        if status is None:
            routes.pop(path, None)
        else:
            routes[path] = (status, location)

    def start(self) -> None:
        self.server.server_activate()
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(SHUTDOWN_POLL,), daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=10)
        self.server.server_close()


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


class HangingWebhook:
    """A server on 127.0.0.1 that accepts connections, reads what is sent and never answers,
    until :meth:`release` closes the connections (the client sees the remote end close).
    ``accepted`` is set once a connection has been taken."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.accepted = threading.Event()
        self.released = threading.Event()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}/hook"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self.released.is_set():
                    connection.close()
                    continue
                self._connections.append(connection)
            self.accepted.set()

    def release(self) -> None:
        """Close the connections taken so far, and every later one at once."""
        with self._lock:
            self.released.set()
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def close(self) -> None:
        self.release()
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        self._thread.join(timeout=10)


@contextmanager
def hanging_webhook() -> Iterator[HangingWebhook]:
    server = HangingWebhook()
    try:
        yield server
    finally:
        server.close()


# -- SMTP --------------------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes
    login: tuple[str, str] | None = None


@dataclass
class SmtpState:
    mails: list[Mail] = field(default_factory=list)
    got: threading.Event = field(default_factory=threading.Event)
    refuse_recipients: bool = False


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        state: SmtpState = self.server.state  # type: ignore[attr-defined]
        sender, recipients, login = "", [], None
        self.reply("220 127.0.0.1 test SMTP")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-127.0.0.1")
                self.reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                token = [*line.split(" "), "", ""][2]
                decoded = base64.b64decode(token).split(b"\0")
                login = (decoded[1].decode(), decoded[2].decode())
                self.reply("235 2.7.0 authenticated")
            elif verb == "MAIL":
                sender = line.split(":", 1)[1].strip().strip("<>").split(">")[0]
                self.reply("250 OK")
            elif verb == "RCPT":
                if state.refuse_recipients:
                    self.reply("550 5.1.1 no such user")
                    continue
                recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = b""
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                state.mails.append(Mail(sender, recipients, data, login))
                state.got.set()
                self.reply("250 OK queued")
            elif verb == "RSET":
                sender, recipients = "", []
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@contextmanager
def smtp_server() -> Iterator[tuple[int, SmtpState]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.state = SmtpState()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.state  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
