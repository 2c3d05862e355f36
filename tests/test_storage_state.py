"""The daemon's state in storage, and the one-daemon-per-database lock, on SQLite and
PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage.locks import DatabaseLock, LockHeld, lock_file_of
from storage.records import SourceState
from storage.repository import Repository
from tests.storage_helpers import HOUR, T0

ROOT = Path(__file__).resolve().parent.parent


def test_source_state_round_trip_and_replace(repo: Repository) -> None:
    assert repo.runs.source_states() == {}
    first = SourceState(
        source="kcna",
        updated_at=T0,
        schedule="every 15m",
        next_run_at=T0 + HOUR,
        pid=42,
        host="box",
    )
    repo.runs.save_source_state(first)
    assert repo.runs.source_states() == {"kcna": first}

    run_id = repo.runs.start("kcna", T0)
    second = SourceState(
        source="kcna",
        updated_at=T0 + HOUR,
        schedule="every 15m",
        next_run_at=None,
        current_run_id=run_id,
        last_error="timed out after 10m",
        last_error_at=T0 + HOUR,
        pid=43,
        host="box",
    )
    repo.runs.save_source_state(second)
    repo.runs.save_source_state(SourceState(source="kcnawatch", updated_at=T0))
    states = repo.runs.source_states()
    assert states["kcna"] == second
    assert states["kcnawatch"].next_run_at is None
    assert states["kcna"].next_run_at is None and states["kcna"].updated_at == T0 + HOUR


def test_close_run_only_closes_a_running_run_and_keeps_its_counts(repo: Repository) -> None:
    run_id = repo.runs.start("kcna", T0)
    assert repo.runs.close(run_id, finished_at=T0 + HOUR, status="failed", error="exit 1")
    run = repo.runs.get(run_id)
    assert run is not None
    assert (run.status, run.error, run.finished_at, run.pages) == ("failed", "exit 1", T0 + HOUR, 0)
    # Already closed: left as it is.
    assert not repo.runs.close(run_id, finished_at=T0, status="interrupted", error=None)
    assert repo.runs.get(run_id).status == "failed"  # type: ignore[union-attr]
    assert repo.runs.get(run_id + 100) is None
    with pytest.raises(ValueError):
        repo.runs.close(run_id, finished_at=T0, status="running", error=None)


def test_recent_runs_by_status(repo: Repository) -> None:
    ok = repo.runs.start("kcna", T0)
    repo.runs.finish(
        ok, finished_at=T0, status="ok", pages=1, new=1, changed=0, unchanged=0, failures=0
    )
    bad = repo.runs.start("kcna", T0 + HOUR)
    repo.runs.close(bad, finished_at=T0 + HOUR, status="failed", error="boom")
    assert [r.id for r in repo.runs.recent(source="kcna", status="failed")] == [bad]
    assert [r.id for r in repo.runs.recent(source="kcna", status="ok")] == [ok]
    assert [r.id for r in repo.runs.recent(source="kcna")] == [bad, ok]


def test_the_lock_has_one_holder(db_url: str) -> None:
    first, second = DatabaseLock(db_url), DatabaseLock(db_url)
    first.acquire()
    try:
        assert second.is_held_elsewhere()
        with pytest.raises(LockHeld, match="locked by another process"):
            second.acquire(timeout=0.2)
        assert not second.held
    finally:
        first.release()
    assert not second.is_held_elsewhere()
    with second:
        assert second.held
    first.release()  # releasing twice is harmless


def test_the_lock_dies_with_its_holder(db_url: str) -> None:
    code = (
        "import sys\n"
        "from storage.locks import DatabaseLock\n"
        "lock = DatabaseLock(sys.argv[1])\n"
        "lock.acquire()\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, db_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        lock = DatabaseLock(db_url)
        with pytest.raises(LockHeld):
            lock.acquire()
        holder.kill()  # no chance to release anything
        holder.wait(timeout=30)
        lock.acquire(timeout=10)  # the server notices the dead session within moments
        assert lock.held
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_sqlite_lock_file_sits_next_to_the_database(tmp_path: Path) -> None:
    assert lock_file_of(f"sqlite:///{tmp_path / 'a.db'}") == tmp_path / "a.db.lock"
    assert lock_file_of("sqlite://") is None
    memory = DatabaseLock("sqlite://")
    memory.acquire()  # nothing to lock: a private database
    assert not memory.is_held_elsewhere()
