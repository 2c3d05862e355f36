"""`status` shows the sources' runs and their active health alarms, as text and JSON."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler.cli.main import main
from storage.db import make_engine
from storage.records import SourceState
from storage.repository import Repository


def status(db_url: str, *args: str) -> str:
    out = io.StringIO()
    assert main(["status", "--db", db_url, *args], out=out) == 0
    return out.getvalue()


def test_status_lists_active_alarms(tmp_path: Path, migrated_sqlite: str, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no config file
    db_url = migrated_sqlite
    engine = make_engine(db_url)
    assert json.loads(status(db_url, "--json"))["alarms"] == []
    assert "alarms     none" in status(db_url)

    Repository(engine).alarms.raise_alarm(
        "kcna", "parse-failures", "9 of 10 pages failed to parse", datetime.now(UTC)
    )
    [alarm] = json.loads(status(db_url, "--json"))["alarms"]
    assert (alarm["source"], alarm["alarm"]) == ("kcna", "parse-failures")
    assert "alarm      kcna parse-failures since" in status(db_url)


def test_status_shows_a_paused_source(tmp_path: Path, migrated_sqlite: str, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    db_url = migrated_sqlite
    engine = make_engine(db_url)
    now = datetime.now(UTC)
    Repository(engine).runs.save_source_state(
        SourceState(
            source="kcna", updated_at=now, failures_in_row=4, paused_until=now + timedelta(hours=1)
        )
    )
    kcna = json.loads(status(db_url, "--json"))["sources"]["kcna"]
    assert kcna["failures_in_row"] == 4 and kcna["paused_until"] is not None
    assert "after 4 failed runs in a row" in status(db_url)
