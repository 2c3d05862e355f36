"""Concurrent requests for the same answer share one database read (:class:`SharedReads`).

A slow database is then asked once, not once per waiting client, and a client waits at most
:data:`WAIT_SECONDS` before it gets a ``503``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from storage.errors import StorageError

#: How long a request waits for a database read that another request started.
WAIT_SECONDS = 30.0

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
