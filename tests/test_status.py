"""`status` shows the sources' runs and their active health alarms, as text and JSON."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from scheduler.cli import main
from storage.db import make_engine, migrate
from storage.monitor import MonitorStore


def status(db_url: str, *args: str) -> str:
    out = io.StringIO()
    assert main(["status", "--db", db_url, *args], out=out) == 0
    return out.getvalue()


def test_status_lists_active_alarms(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no config file
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    assert json.loads(status(db_url, "--json"))["alarms"] == []
    assert "alarms     none" in status(db_url)

    MonitorStore(engine).raise_alarm(
        "kcna", "parse-failures", "9 of 10 pages failed to parse", datetime.now(UTC)
    )
    [alarm] = json.loads(status(db_url, "--json"))["alarms"]
    assert (alarm["source"], alarm["alarm"]) == ("kcna", "parse-failures")
    assert "alarm      kcna parse-failures since" in status(db_url)
