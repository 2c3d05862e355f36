"""Fixtures of the browser tests: a headless Chromium, the crawled archive, the reading room
serving it, and a page per test; a failing test leaves a screenshot and the page's HTML.

One browser for all the browser tests (started once: about a second), a new context per test
(its own cookies and viewport). The archive is crawled once (:mod:`tests.browser.archive`) and
served by :class:`~scheduler.web.server.WebServer` in a thread. These fixtures last as long as
the package's tests, not the session: Playwright's driver keeps an event loop running in the
main thread, where the tests after them call ``asyncio.run``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.archive import Archive, build_archive
from tests.browser.chromium import artifacts_dir, launch, require_browser

#: The reading room's configuration: pages short enough to page through a small archive,
#: and a watch rule whose webhook URL carries a secret the /watch page must not show.
CONFIG = """
[web]
page_size = 2

[[watch]]
name = "farms"
match = "farm"
notify = ["webhook:https://user:hunter2secret@hooks.example.org/farm?key=s3cr3tkey"]
"""
SECRETS = ("hunter2secret", "s3cr3tkey")


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """A headless Chromium (skipped locally without one; an error when ``CI`` is set)."""
    path = require_browser()
    with launch(path) as running:
        yield running


@pytest.fixture(scope="package")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(tmp_path_factory.mktemp("browser-archive"))


@pytest.fixture(scope="package")
def site(archive: Archive) -> Iterator[str]:
    """The root URL of the reading room serving ``archive`` (no trailing slash)."""
    from scheduler.config import parse_config
    from scheduler.web.app import create_app
    from scheduler.web.context import WebContext
    from scheduler.web.server import WebServer
    from storage.db import make_engine
    from storage.repository import Repository

    engine = make_engine(archive.db_url)
    context = WebContext(Repository(engine), parse_config(CONFIG), archive.db_url)
    try:
        with WebServer(create_app(context), "127.0.0.1", 0) as server:
            yield server.url
    finally:
        engine.dispose()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh browser context (desktop size unless the test asks for a
    ``viewport`` via indirect parametrization); JavaScript errors are collected in
    ``page.errors``, the console's errors (a blocked inline style, say) in
    ``page.console_errors``."""
    viewport = getattr(request, "param", None) or {"width": 1280, "height": 900}
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    opened.errors = []
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    opened.console_errors = []
    opened.on("console", lambda m: m.type == "error" and opened.console_errors.append(m.text))
    try:
        yield opened
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """After a failing test (or fixture) step that had a page: save its screenshot and HTML,
    and name the files in the report."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.failed and page is not None and not page.is_closed():
        saved = _save_artifacts(page, item.nodeid)
        report.sections.append(("browser artifacts", saved))
    return report


def _save_artifacts(page: Any, nodeid: str) -> str:
    folder = artifacts_dir()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]
    shot, html = folder / f"{stem}.png", folder / f"{stem}.html"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        html.write_text(page.content(), encoding="utf-8")
    except Exception as error:  # the report must not fail for want of a screenshot
        return f"could not save the page's screenshot in {folder}: {error}"
    return f"page at {page.url}: screenshot {_shown(shot)}, HTML {_shown(html)}"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
