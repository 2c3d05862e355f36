"""The daemon's signals: SIGTERM and SIGINT ask it to stop, SIGHUP to reload its configuration."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def commands_on_signals(command: Callable[[str], None]) -> Iterator[None]:
    """While inside, SIGTERM/SIGINT call ``command("stop")`` and SIGHUP ``command("reload")``.

    A handler only passes the command on (e.g. into a queue): the main thread acts on it, as
    a handler must not take locks the main thread may hold. Outside the main thread, where
    Python cannot install handlers, nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum: int, _frame: FrameType | None) -> None:
        command("stop")

    def hup(_signum: int, _frame: FrameType | None) -> None:
        command("reload")

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
        signal.SIGINT: signal.signal(signal.SIGINT, stop),
        signal.SIGHUP: signal.signal(signal.SIGHUP, hup),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
