"""The one-daemon-per-database lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage.locks import DatabaseLock, LockHeld, lock_file_of

ROOT = Path(__file__).resolve().parent.parent


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
