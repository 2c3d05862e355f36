"""Helpers of the web tests: the configuration, the context and the app over a test
archive, served by the real server on 127.0.0.1 (a free port) and read with httpx.

Time is a :class:`tests.monitor_helpers.Clock`; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx

from scheduler.config import Config, validate
from scheduler.web.app import create_app
from scheduler.web.context import WebContext
from scheduler.web.server import WebServer
from storage.repository import Repository
from tests.storage_helpers import T0

RULES = [{"name": "missiles", "match": "missile", "notify": ["webhook:http://127.0.0.1:9/x"]}]


def web_config(rules: list[dict[str, Any]] | None = None, **web: Any) -> Config:
    """A configuration with these watch rules and ``[web]`` settings."""
    return validate({"watch": rules or [], "web": web})


def db_url_of(repo: Repository) -> str:
    return repo.engine.url.render_as_string(hide_password=False)


def context(
    repo: Repository,
    config: Config | None = None,
    clock: Callable[[], datetime] = lambda: T0,
) -> WebContext:
    return WebContext(repo, config or web_config(), db_url_of(repo), clock=clock)


@contextmanager
def serving(web: WebContext, *, token: str | None = None) -> Iterator[httpx.Client]:
    """An HTTP client of the app over ``web``, served on 127.0.0.1 (its ``base_url`` set)."""
    with (
        WebServer(create_app(web, token=token), "127.0.0.1", 0) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client
