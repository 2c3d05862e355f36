"""A fork server for the tests' crawls: ``python -m scheduler.cli`` without starting Python.

A crawl in a child process first starts an interpreter and imports Scrapy, Twisted,
SQLAlchemy, Alembic and the project: a second or more on a busy 2-core machine before the
first request, and the tests start about a hundred crawls (the kill -9 tests alone fifty).
This server imports all that once, then forks a child per command. The child runs what
``python -m scheduler.cli ARGS`` runs (the package's ``__main__`` module) with the command's
arguments, environment, working folder and standard streams, and exits as that would. It is a
process of its own: the tests signal it, kill it, read its output and wait for its exit status
as they would a child of theirs (:class:`Forked` answers as :class:`subprocess.Popen` does).

What the server imports must not depend on a command's environment: the modules that read
the environment when imported (``RELOAD``) are imported again in each child. All children
share the server's hash seed.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import runpy
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
MODULE = "scheduler.cli"
#: What the children would import anyway: the command line and Scrapy's default components.
PRELOAD = ("scheduler.cli.main", "scrapy.crawler", "scrapy.core.engine")
#: The modules that read the environment when imported: imported again by each child, under
#: its command's environment.
RELOAD = ("crawler.settings",)


# -- the server ------------------------------------------------------------------------------


def _preload() -> None:
    from scrapy.settings import default_settings

    for name in PRELOAD:
        importlib.import_module(name)
    for setting in ("DOWNLOAD_HANDLERS_BASE", "DOWNLOADER_MIDDLEWARES_BASE",
                    "SPIDER_MIDDLEWARES_BASE", "EXTENSIONS_BASE"):  # fmt: skip
        for key, value in getattr(default_settings, setting).items():
            path = value if setting == "DOWNLOAD_HANDLERS_BASE" else key
            importlib.import_module(path.rsplit(".", 1)[0])
    assert "twisted.internet.reactor" not in sys.modules, "a reactor was installed"
    # What is imported lives as long as the children: their collections need not walk it
    # (nor copy it on write), as the gc module advises for a process that forks.
    gc.freeze()


@dataclass
class _Child:
    pid: int
    pidfd: int
    reply: socket.socket
    exited: bool = False
    abandoned: bool = False


def serve(control: socket.socket) -> None:
    """Fork a child per request on ``control`` until it closes."""
    _preload()
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is control:
                if not _start(control, selector):
                    return
            else:
                _settle(selector, key.data, ended=key.fileobj == key.data.pidfd)


def _start(control: socket.socket, selector: selectors.BaseSelector) -> bool:
    message, fds, _, _ = socket.recv_fds(control, 1 << 20, 4)
    if not message:
        return False
    request = json.loads(message)
    reply = socket.socket(fileno=fds[0])
    pid = os.fork()
    if pid == 0:
        for key in list(selector.get_map().values()):
            if isinstance(key.fileobj, int):
                os.close(key.fileobj)
            else:
                key.fileobj.close()
        selector.close()
        _run(request, reply, fds[1:])  # raises SystemExit: the child exits as python -m would
    for fd in fds[1:]:
        os.close(fd)
    child = _Child(pid, os.pidfd_open(pid), reply)
    selector.register(child.pidfd, selectors.EVENT_READ, child)
    selector.register(reply, selectors.EVENT_READ, child)
    reply.sendall(f"{pid}\n".encode())
    return True


def _run(request: dict[str, Any], reply: socket.socket, streams: list[int]) -> None:
    reply.close()
    for target, fd in enumerate(streams):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for name in RELOAD:
        if name in sys.modules:
            importlib.reload(sys.modules[name])
    sys.argv = [MODULE, *request["args"]]
    runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
    raise SystemExit(0)


def _settle(selector: selectors.BaseSelector, child: _Child, *, ended: bool) -> None:
    """A child ended (tell its exit status, keeping it unreaped so that its pid cannot be
    reused while the tests may still signal it), or the tests are done with it (reap it)."""
    if ended:
        info = os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED | os.WNOWAIT)
        assert info is not None
        code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        with contextlib.suppress(OSError):
            child.reply.sendall(f"{code}\n".encode())
        selector.unregister(child.pidfd)
        child.exited = True
    else:
        with contextlib.suppress(OSError):
            if child.reply.recv(1):
                return
        selector.unregister(child.reply)
        child.abandoned = True
    if child.exited and child.abandoned:
        os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED)
        os.close(child.pidfd)
        child.reply.close()


# -- the client ------------------------------------------------------------------------------


class ForkServer:
    """The server process, and the channel commands are sent on."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        self.control = ours
        self.lock = threading.Lock()

    def send(self, request: dict[str, Any], fds: list[int]) -> None:
        with self.lock:
            socket.send_fds(self.control, [json.dumps(request).encode()], fds)

    def close(self) -> None:
        self.control.close()
        self.process.wait(timeout=30)


_server: ForkServer | None = None


def _fork_server() -> ForkServer:
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = ForkServer()
        atexit.register(_server.close)
    return _server


def _streams(stdin: Any, stdout: Any, stderr: Any) -> tuple[list[int], list[int | None]]:
    """The child's standard streams (0, 1, 2), and our ends of its pipes."""
    theirs: list[int] = []
    ours: list[int | None] = [None, None, None]
    for n, wanted in enumerate((stdin, stdout, stderr)):
        if wanted == subprocess.PIPE:
            read, write = os.pipe()
            theirs.append(read if n == 0 else write)
            ours[n] = write if n == 0 else read
        elif wanted == subprocess.DEVNULL:
            theirs.append(os.open(os.devnull, os.O_RDWR))
        elif wanted == subprocess.STDOUT and n == 2:
            theirs.append(os.dup(theirs[1]))
        elif wanted is None:
            theirs.append(os.dup(n))
        else:
            theirs.append(os.dup(wanted if isinstance(wanted, int) else wanted.fileno()))
    return theirs, ours


class Forked:
    """``python -m scheduler.cli ARGS`` forked by the fork server; used as a
    :class:`subprocess.Popen` (text mode) is."""

    def __init__(
        self,
        args: list[str],
        *,
        env: dict[str, str],
        cwd: Path | str,
        stdin: Any = None,
        stdout: Any = None,
        stderr: Any = None,
    ) -> None:
        self.args = [sys.executable, "-m", MODULE, *args]
        self.returncode: int | None = None
        theirs, ours = _streams(stdin, stdout, stderr)
        self.reply, remote = socket.socketpair()
        try:
            request = {"args": args, "env": env, "cwd": str(cwd)}
            _fork_server().send(request, [remote.fileno(), *theirs])
        finally:
            remote.close()
            for fd in theirs:
                os.close(fd)
        self._answers = self.reply.makefile("r", encoding="ascii")
        started = self._answers.readline()
        if not started:
            raise RuntimeError("the fork server went away")
        self.pid = int(started)
        self.stdin: IO[str] | None = open(ours[0], "w") if ours[0] is not None else None  # noqa: SIM115
        self.stdout: IO[str] | None = open(ours[1]) if ours[1] is not None else None  # noqa: SIM115
        self.stderr: IO[str] | None = open(ours[2]) if ours[2] is not None else None  # noqa: SIM115
        self._output: dict[int, list[bytes]] = {}

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.reply], [], [], 0)[0]:
            self._exited()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            ready = select.select([self.reply], [], [], timeout)[0]
            if not ready:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._exited()
        assert self.returncode is not None
        return self.returncode

    def _exited(self) -> None:
        line = self._answers.readline()
        if not line:
            raise RuntimeError("the fork server went away")
        self.returncode = int(line)
        self._answers.close()
        self.reply.close()  # the server may reap the child now

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[str | None, str | None]:
        """What the child writes on its pipes until it closes them, and its exit."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self.stdin is not None:
            self.stdin.close()
        streams = [s for s in (self.stdout, self.stderr) if s is not None and not s.closed]
        with selectors.DefaultSelector() as selector:
            for stream in streams:
                self._output.setdefault(stream.fileno(), [])
                selector.register(stream.fileno(), selectors.EVENT_READ)
            while selector.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(self.args, timeout or 0)
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, 32768)
                    if chunk:
                        self._output[key.fd].append(chunk)
                    else:
                        selector.unregister(key.fd)
        texts = [self._text(stream) for stream in (self.stdout, self.stderr)]
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return texts[0], texts[1]

    def _text(self, stream: IO[str] | None) -> str | None:
        if stream is None:
            return None
        text = b"".join(self._output.get(stream.fileno(), [])).decode(stream.encoding)
        stream.close()
        return text.replace("\r\n", "\n").replace("\r", "\n")


def run(
    args: list[str], *, env: dict[str, str], cwd: Path | str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Like ``subprocess.run([python, -m, scheduler.cli, *args], capture_output=True,
    text=True)``: the exit status and the output."""
    process = Forked(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.wait(), out, err)


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
