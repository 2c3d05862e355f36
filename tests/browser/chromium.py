"""The system's Chromium, driven by Playwright: found, started headless, and where the
screenshots of failing tests go.

Playwright never downloads a browser here: it drives the one Debian installs
(``apt-get install chromium``), named by ``$KCNA_MONITOR_CHROMIUM`` or found on ``PATH``.
Without one (or without the ``playwright`` package) the browser tests are skipped with the
reason, or fail when the ``CI`` environment variable is set, as the PostgreSQL tests do.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ENV_BROWSER = "KCNA_MONITOR_CHROMIUM"
ENV_ARTIFACTS = "KCNA_MONITOR_ARTIFACTS"
ROOT = Path(__file__).resolve().parent.parent.parent
#: The machine may have no network: nothing in the background that waits on it.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def in_ci() -> bool:
    """Whether ``CI`` is set (to anything but empty, 0, false or no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_browser() -> str | None:
    """The Chromium executable: ``$KCNA_MONITOR_CHROMIUM``, else ``chromium`` or
    ``chromium-browser`` on ``PATH``; None when there is none."""
    named = os.environ.get(ENV_BROWSER, "").strip()
    if named:
        return shutil.which(named)
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _problem() -> tuple[str | None, str | None]:
    """(the browser's path, None) or (None, why the browser tests cannot run)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, "the playwright package is not installed (pip install -e '.[test]')"
    path = find_browser()
    if path is None:
        named = os.environ.get(ENV_BROWSER, "").strip()
        where = f"${ENV_BROWSER}={named} is not an executable" if named else "no chromium on PATH"
        return None, f"{where} (apt-get install chromium, or set ${ENV_BROWSER})"
    return path, None


def require_browser() -> str:
    """The browser's path; skips the test (fails it under CI) when there is none."""
    path, problem = _problem()
    if path is None:
        message = f"browser tests need Chromium: {problem}"
        if in_ci():
            pytest.fail(message + " (CI is set, so this is an error)")
        pytest.skip(message)
    return path


@contextmanager
def launch(path: str) -> Iterator[Any]:
    """Chromium at ``path``, headless, for as long as the block runs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def artifacts_dir() -> Path:
    """Where failing browser tests leave their screenshots: ``$KCNA_MONITOR_ARTIFACTS``, else
    ``tests/.artifacts``."""
    named = os.environ.get(ENV_ARTIFACTS, "").strip()
    return Path(named) if named else ROOT / "tests" / ".artifacts"
