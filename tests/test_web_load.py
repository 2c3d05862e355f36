"""The server under load: 200 clients at once get 200 right answers, and a slow database
read makes clients wait, never refuses them."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from scheduler.web.app import create_app
from scheduler.web.context import WebContext
from scheduler.web.server import LISTEN_BACKLOG, WebServer
from scheduler.web.shared import SharedReads
from storage.errors import StorageError
from storage.repository import Repository
from tests.monitor_helpers import Clock
from tests.storage_helpers import T0
from tests.test_web import populate
from tests.web_helpers import RULES, context, db_url_of, web_config

CLIENTS = 200


def one_request(host: str, port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def fire(host: str, port: int, paths: list[str]) -> list[tuple[int, bytes] | BaseException]:
    """Request every path at once, one connection each; the answers or the errors."""
    start = threading.Barrier(len(paths))

    def one(path: str) -> tuple[int, bytes] | BaseException:
        start.wait(timeout=30)
        try:
            return one_request(host, port, path)
        except OSError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        return list(pool.map(one, paths))


def test_the_listen_backlog_holds_a_burst(repo: Repository) -> None:
    server = WebServer(create_app(context(repo)), "127.0.0.1", 0)
    try:
        assert server.server.config.backlog == LISTEN_BACKLOG >= 128
        assert server.address[0] == "127.0.0.1" and server.address[1] > 0
    finally:
        server.socket.close()


def test_200_concurrent_requests_to_metrics_and_healthz_all_get_the_right_answer(
    repo: Repository,
) -> None:
    clock = Clock(T0)
    populate(repo, clock)
    with WebServer(create_app(context(repo, web_config(RULES), clock)), "127.0.0.1", 0) as server:
        host, port = server.address
        expected = {path: one_request(host, port, path) for path in ("/metrics", "/healthz")}
        paths = ["/metrics", "/healthz"] * CLIENTS
        began = time.monotonic()
        answers = fire(host, port, paths)
        took = time.monotonic() - began
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert errors == []
    for path, answer in zip(paths, answers, strict=True):
        assert answer == expected[path], path
    assert expected["/metrics"][0] == 200
    assert b"kcna_monitor_database_up 1" in expected["/metrics"][1]
    assert expected["/healthz"][0] == 200
    assert took < 30


class SlowContext(WebContext):
    """Its /metrics read waits until the test lets it go, as a slow database would."""

    release: threading.Event
    reads: int

    def metrics(self) -> str:
        self.reads += 1
        assert self.release.wait(timeout=60)
        return "kcna_monitor_database_up 1\n"


def test_a_slow_database_read_refuses_no_connection(repo: Repository) -> None:
    web = SlowContext(repo, web_config(), db_url_of(repo))
    web.release, web.reads = threading.Event(), 0
    with WebServer(create_app(web), "127.0.0.1", 0) as server:
        host, port = server.address
        sent = threading.Barrier(CLIENTS + 1)

        def client() -> bytes:
            with socket.create_connection((host, port), timeout=30) as sock:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                sent.wait(timeout=30)  # every client is connected while the read is stuck
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
                return b"".join(chunks)

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            answers = [pool.submit(client) for _ in range(CLIENTS)]
            sent.wait(timeout=30)
            web.release.set()
            replies = [answer.result(timeout=60) for answer in answers]
    for reply in replies:
        assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(
            b"\r\n\r\nkcna_monitor_database_up 1\n"
        )
    assert 1 <= web.reads < CLIENTS


def blocked(shared: SharedReads, compute: Callable[[], str]) -> tuple[threading.Thread, list]:
    """Start ``shared.get("k", compute)`` in a thread; its result lands in the list."""
    result: list = []

    def run() -> None:
        try:
            result.append(shared.get("k", compute))
        except Exception as error:
            result.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_requests_for_the_same_answer_share_one_read() -> None:
    shared = SharedReads()
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        assert release.wait(timeout=30)
        raise StorageError("cannot open database x: connection refused")

    first, first_result = blocked(shared, slow)
    assert started.wait(timeout=30)
    shared.wait = 0  # a request that cannot wait: a 503 at once, not a second read
    with pytest.raises(StorageError, match="the database did not answer within 0 s"):
        shared.get("k", lambda: "never computed")
    shared.wait = 30
    second, second_result = blocked(shared, lambda: "computed after the first read")
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert str(first_result[0]) == "cannot open database x: connection refused"
    # It shared the failed read, or came after it and read again.
    assert str(second_result[0]) in (str(first_result[0]), "computed after the first read")
    assert shared.get("k", lambda: "fresh") == "fresh"  # nothing is kept once it is done


def test_responses_are_sent_at_once_not_held_for_an_ack(repo: Repository) -> None:
    """Nagle's algorithm is off on the server's connections: asyncio turns it off on sockets
    created as TCP, and the listening socket has it off for the connections it accepts.
    (With it on, every response after the first on a kept-alive connection waited about
    40 ms for the client's delayed ACK.)"""
    with WebServer(create_app(context(repo)), "127.0.0.1", 0) as server:
        assert server.socket.proto == socket.IPPROTO_TCP
        assert server.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        host, port = server.address
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            for _ in range(3):  # one connection, kept alive
                connection.request("GET", "/api/")
                response = connection.getresponse()
                assert response.status == 200 and response.read()
        finally:
            connection.close()
