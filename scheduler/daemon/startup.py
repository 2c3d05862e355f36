"""What a daemon on SQLite does as it starts: take the one-daemon-per-archive lock, and settle
the runs a previous daemon left unfinished. (On PostgreSQL daemons are peers instead: see
:mod:`scheduler.daemon.cluster`.)"""

from __future__ import annotations

import logging
from datetime import datetime

from scheduler.daemon.supervisor import SourceStates
from storage.db import StorageError, display_url
from storage.locks import DatabaseLock, LockHeld
from storage.repository import Repository

logger = logging.getLogger("daemon")

#: How long a starting daemon waits for the database lock (a ``status`` probing it holds
#: it for a moment).
LOCK_WAIT = 3.0


class DaemonError(Exception):
    """The daemon cannot start; the message is one line."""


def take_lock(lock: DatabaseLock, repo: Repository, db_url: str) -> None:
    """Take the archive's daemon lock, or say which daemon holds it (:class:`DaemonError`)."""
    try:
        lock.acquire(timeout=LOCK_WAIT)
    except LockHeld:
        holder = ""
        try:
            states = [s for s in repo.runs.source_states().values() if s.pid is not None]
        except StorageError:
            states = []
        if states:
            latest = max(states, key=lambda s: s.updated_at)
            holder = f" (pid {latest.pid} on {latest.host})"
        raise DaemonError(
            f"another kcna-monitor daemon is already running on "
            f"{display_url(db_url)}{holder}; stop it first (on SQLite one daemon runs per"
            " archive; on PostgreSQL several run as peers)"
        ) from None


def close_abandoned_runs(states: SourceStates, repo: Repository, now: datetime) -> None:
    """Runs a previous daemon left ``running`` (it died during them): interrupted."""
    for name in states.names():
        state = states.get(name)
        if state is None or state.current_run_id is None:
            continue
        closed = repo.runs.close(
            state.current_run_id,
            finished_at=now,
            status="interrupted",
            error="the daemon stopped before the crawl finished",
        )
        if closed:
            logger.warning(
                "%s: run %d was left unfinished by a daemon that stopped; recorded as interrupted",
                name,
                state.current_run_id,
            )
        states.forget_run(name)
