"""In a browser, through the real command: ``kcna-monitor serve --port 0`` on the crawled
archive tells its URL on its first line, and its pages answer a search typed in the box."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.archive import Archive
from tests.browser.conftest import CONFIG
from tests.browser.person import result_titles, search_from_box

pytestmark = pytest.mark.browser


ROOT = Path(__file__).resolve().parent.parent.parent
#: How long the command may take to start listening.
START_TIMEOUT = 30.0


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The process's first line of output, waited for up to ``timeout`` seconds ("" when
    none came)."""
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def stop(process: subprocess.Popen[str]) -> str:
    """Stop the process (SIGTERM, then SIGKILL after 10 s); what it wrote to stderr."""
    process.terminate()
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


@pytest.fixture
def served(archive: Archive, tmp_path: Path) -> Iterator[str]:
    """``kcna-monitor serve --port 0`` on the archive, in a process of its own; its URL."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "KCNA_MONITOR_DB": ""}
    command = [sys.executable, "-m", "scheduler.cli", "serve", "--port", "0"]
    command += ["--db", archive.db_url, "--config", str(config), "--log-level", "WARNING"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    line = first_line(process, START_TIMEOUT)
    if not line.startswith("serving the archive at http://127.0.0.1:"):
        raise AssertionError(f"serve said {line!r}; stderr: {stop(process)}")
    try:
        yield line.split(" at ", 1)[1].split()[0].rstrip("/")
    finally:
        stop(process)


def test_the_served_archive_answers_a_search_typed_in_the_box(
    page: Any, served: str, archive: Archive
) -> None:
    answer = page.goto(served + "/")
    assert answer.status == 200
    assert "Content-Security-Policy" in {name.title() for name in answer.headers}
    search_from_box(page, served, "fish farm")
    assert result_titles(page) == [archive.edited_title]
