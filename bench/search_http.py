"""The web figures of the search benchmark, over HTTP against a running ``kcna-monitor serve``.

- ``/api/articles?q=WORD`` under ``clients`` (16) concurrent clients for ``seconds``: requests
  per second and errors (any answer but 200, any connection failure), the words taken in turn
  from a list;
- the archive page (``GET /``) and an article page (``GET /articles/ID``): p95 of one client's
  requests, one after the other.

Each client is a thread with its own ``httpx.Client`` (keep-alive, as a browser or a script
does). Nothing here starts a server: give the base URL of one (``--url``); a server that is
not on 127.0.0.1 may want a token (``--token``, sent as ``Authorization: Bearer``).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

#: Seconds a request may take before it counts as an error.
TIMEOUT = 30.0


@dataclass
class Load:
    """What the concurrent clients did: requests answered 200, errors, wall seconds."""

    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    first_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.ok += 1
                return
            self.errors += 1
            self.first_error = self.first_error or error

    @property
    def per_second(self) -> float:
        return (self.ok + self.errors) / self.seconds if self.seconds else 0.0


def _client(base_url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT)


def _get(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> str | None:
    """None when ``path`` answered 200, else what went wrong, in a few words."""
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    return None if response.status_code == 200 else f"HTTP {response.status_code} at {path}"


def api_load(
    base_url: str,
    path: str,
    words: Sequence[str],
    *,
    clients: int = 16,
    seconds: float = 10.0,
    token: str | None = None,
) -> Load:
    """``GET path?q=WORD`` from ``clients`` threads for ``seconds``, the words in turn (no
    ``q`` when ``words`` is empty)."""
    load = Load()
    turn = itertools.count()
    start = time.perf_counter()
    deadline = start + seconds

    def client_loop() -> None:
        with _client(base_url, token) as client:
            while time.perf_counter() < deadline:
                params = {"q": words[next(turn) % len(words)]} if words else None
                load.record(_get(client, path, params))

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + TIMEOUT + 5)
    load.seconds = time.perf_counter() - start
    return load


def page_times(
    base_url: str, path: str, repeats: int, token: str | None = None
) -> tuple[list[float], str | None]:
    """Seconds of ``repeats`` requests of ``path`` (after one untimed), and the first error."""
    times: list[float] = []
    with _client(base_url, token) as client:
        error = _get(client, path)
        for _ in range(repeats):
            started = time.perf_counter()
            failed = _get(client, path)
            times.append(time.perf_counter() - started)
            error = error or failed
    return times, error


def _first_id(document: Any) -> str | None:
    """The first ``"id"`` of an article in a JSON answer, wherever the API puts its list."""
    if isinstance(document, dict):
        if isinstance(document.get("id"), str):
            return document["id"]
        children: Any = document.values()
    elif isinstance(document, list):
        children = document
    else:
        return None
    for child in children:
        found = _first_id(child)
        if found is not None:
            return found
    return None


def find_article(base_url: str, token: str | None = None) -> str | None:
    """An article id the server knows: the first of ``/api/articles?edited=1``, else of
    ``/api/articles``; None when the API does not answer with one."""
    with _client(base_url, token) as client:
        for params in ({"edited": "1"}, {}):
            try:
                response = client.get("/api/articles", params=params)
                if response.status_code == 200:
                    found = _first_id(response.json())
                    if found is not None:
                        return found
            except (httpx.HTTPError, ValueError):
                continue
    return None
