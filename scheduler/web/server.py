"""The HTTP server of ``kcna-monitor serve``: uvicorn serving the app of
:func:`scheduler.web.app.create_app` on a socket bound here.

Binding first, then handing the socket to uvicorn, means a port that is taken is one clear
line before anything starts, and ``port=0`` (any free port, for tests) tells its number at
once. The kernel queues up to :data:`LISTEN_BACKLOG` connections not accepted yet, so a
burst of scrapers and probes is answered rather than refused.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

#: Connections the kernel holds for the server before it accepts them (the system's limit,
#: ``net.core.somaxconn``, may lower it).
LISTEN_BACKLOG = max(1024, socket.SOMAXCONN)
#: How long an idle keep-alive connection stays open.
KEEP_ALIVE_SECONDS = 30


class WebServer:
    """``app`` served on (``host``, ``port``); the socket is bound on creation (raises
    :class:`OSError` when it cannot be)."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # Named TCP (not protocol 0): asyncio turns Nagle's algorithm off only on sockets that
        # say so, and with it on, every response after the first on a kept-alive connection
        # waited for the client's delayed ACK (about 40 ms).
        self.socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socket.bind((host.strip("[]"), port))
            self.socket.listen(LISTEN_BACKLOG)
        except OSError:
            self.socket.close()
            raise
        self.socket.set_inheritable(True)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            backlog=LISTEN_BACKLOG,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        host, port = self.socket.getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve until SIGINT or SIGTERM (in the main thread) or :meth:`stop`."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    # -- in a thread, for tests and benchmarks -------------------------------------------

    def __enter__(self) -> WebServer:
        self._thread = threading.Thread(target=self._run_in_thread, name="web", daemon=True)
        self._thread.start()
        return self

    def _run_in_thread(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.socket]))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (the open connections are closed) and wait for the thread."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self.socket.close()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
