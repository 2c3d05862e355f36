"""The runs aggregate: crawl runs and their failures and parse statistics, and what the
monitoring daemon does per source.

A run is started as ``running`` by the process that will record its outcome (``pid`` on
``host``); a run left running by a process that no longer exists is settled as interrupted.
A run another node took over (``superseded_by``, see :mod:`storage.cluster`) is fenced:
every write of its outcome or counters is refused (:class:`RunSuperseded`), so a node that
comes back after its lease passed never writes over the new owner's run.
Every method is one unit of work (see :mod:`storage.unit`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from storage.errors import RunSuperseded, UnknownRun
from storage.models import FAILURES, RUN_STATS, RUNS, STATES
from storage.records import (
    RUN_STATUSES,
    FailureInput,
    RunStats,
    RunTotals,
    RunView,
    SourceState,
)
from storage.unit import UnitOfWork, chunks, insert, upsert

_STAT_NAMES = tuple(f.name for f in fields(RunStats))


def _require_finished(status: str) -> None:
    if status not in RUN_STATUSES or status == "running":
        raise ValueError(f"a finished run's status is ok, failed or interrupted, not {status!r}")


class Runs(UnitOfWork):
    """Crawl runs, their failures and statistics; the daemon's state of each source."""

    # -- a run's life --------------------------------------------------------------------

    def start(
        self,
        source: str,
        started_at: datetime,
        *,
        kind: str = "crawl",
        pid: int | None = None,
        host: str | None = None,
    ) -> int:
        """Record a crawl run as running; returns its id. ``pid`` and ``host`` name the
        process that will record its outcome (see :meth:`settle_dead`)."""
        row = {
            "source": source,
            "started_at": started_at,
            "status": "running",
            "kind": kind,
            "pid": pid,
            "host": host,
            **dict.fromkeys(("pages", "new", "changed", "unchanged", "failures"), 0),
        }
        return self._write(
            lambda s: int(s.execute(insert(s, RUNS).values(row).returning(RUNS.c.id)).scalar_one())
        )

    def claim(self, run_id: int, *, kind: str, pid: int, host: str) -> None:
        """Make the process ``pid`` on ``host`` the one that records the run's outcome (a
        daemon records a run, then hands it to the crawl it starts)."""
        self._update_known(run_id, {"kind": kind, "pid": pid, "host": host})

    def update_counts(
        self, run_id: int, *, pages: int, new: int, changed: int, unchanged: int, failures: int
    ) -> None:
        """Keep a running run's counters current, so that a crawl that dies leaves them."""
        values = {
            "pages": pages,
            "new": new,
            "changed": changed,
            "unchanged": unchanged,
            "failures": failures,
        }
        statement = update(RUNS).where(
            RUNS.c.id == run_id, RUNS.c.status == "running", RUNS.c.superseded_by.is_(None)
        )
        self._write(lambda s: s.execute(statement.values(values)))

    def finish(
        self,
        run_id: int,
        *,
        finished_at: datetime,
        status: str,
        pages: int,
        new: int,
        changed: int,
        unchanged: int,
        failures: int,
        error: str | None = None,
    ) -> None:
        """Close a crawl run with its final status (ok, failed or interrupted) and counters."""
        _require_finished(status)
        values = {
            "finished_at": finished_at,
            "status": status,
            "pages": pages,
            "new": new,
            "changed": changed,
            "unchanged": unchanged,
            "failures": failures,
            "error": error,
        }
        self._update_known(run_id, values)

    def _update_known(self, run_id: int, values: dict[str, Any]) -> None:
        def work(session: Session) -> None:
            fenced = update(RUNS).where(RUNS.c.id == run_id, RUNS.c.superseded_by.is_(None))
            if session.execute(fenced.values(values)).rowcount == 0:
                by = session.execute(
                    select(RUNS.c.superseded_by).where(RUNS.c.id == run_id)
                ).first()
                if by is None:
                    raise UnknownRun(f"no crawl run with id {run_id}")
                raise RunSuperseded(
                    f"run {run_id} was taken over by run {by[0]} once its node's lease had"
                    " passed: its outcome is not recorded"
                )

        self._write(work)

    def close(self, run_id: int, *, finished_at: datetime, status: str, error: str | None) -> bool:
        """Close a run that is still ``running`` (its crawl died or was stopped before it could
        record its end), keeping its counters. False when the run was already closed."""
        _require_finished(status)
        statement = (
            update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.status == "running", RUNS.c.superseded_by.is_(None))
            .values(finished_at=finished_at, status=status, error=error)
        )
        return self._write(lambda s: bool(s.execute(statement).rowcount))

    def settle_dead(
        self, *, host: str, is_alive: Callable[[int], bool], at: datetime
    ) -> list[RunView]:
        """Record as interrupted the runs left ``running`` on ``host`` by a process that no
        longer exists (``is_alive(pid)`` is false), keeping their counters; returns them."""
        query = select(RUNS.c.id, RUNS.c.pid).where(
            RUNS.c.status == "running", RUNS.c.host == host, RUNS.c.pid.is_not(None)
        )
        running = self._read(
            lambda s: [(int(run_id), int(pid)) for run_id, pid in s.execute(query)]
        )
        settled = []
        for run_id in [run_id for run_id, pid in running if not is_alive(pid)]:
            closed = self.close(
                run_id,
                finished_at=at,
                status="interrupted",
                error="the crawl process ended before it recorded the end of the run",
            )
            view = self.get(run_id) if closed else None
            if view is not None:
                settled.append(view)
        return settled

    def record_failures(self, run_id: int | None, failures: Sequence[FailureInput]) -> None:
        """Record pages that could not be fetched or parsed, optionally tied to a run."""
        rows = [
            {
                "run_id": run_id,
                "url": f.url,
                "reason": f.reason,
                "at": f.at,
                "listed_on": f.listed_on,
                "category": f.category,
            }
            for f in failures
        ]
        if not rows:
            return

        def work(session: Session) -> None:
            for chunk in chunks(rows):
                session.execute(insert(session, FAILURES).values(list(chunk)))

        self._write(work)

    def save_stats(self, run_id: int, stats: RunStats, at: datetime) -> None:
        """Record (or replace) what run ``run_id`` parsed."""
        row = {"run_id": run_id, **asdict(stats), "recorded_at": at}
        columns = [name for name in row if name != "run_id"]
        self._write(lambda s: s.execute(upsert(s, RUN_STATS, ["run_id"], columns).values(row)))

    # -- reading runs --------------------------------------------------------------------

    def get(self, run_id: int) -> RunView | None:
        """One run by id, or None."""
        query = select(RUNS).where(RUNS.c.id == run_id)

        def work(session: Session) -> RunView | None:
            row = session.execute(query).mappings().first()
            return RunView(**dict(row)) if row is not None else None

        return self._read(work)

    def recent(
        self, limit: int = 20, source: str | None = None, status: str | None = None
    ) -> list[RunView]:
        """The latest runs, newest first; optionally of one source, or in one status."""
        query = select(RUNS).order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(limit)
        if source is not None:
            query = query.where(RUNS.c.source == source)
        if status is not None:
            query = query.where(RUNS.c.status == status)
        return self._read(lambda s: [RunView(**dict(row)) for row in s.execute(query).mappings()])

    def last_crawl_unfinished(self, source: str, *, before_run: int | None = None) -> bool:
        """Whether the latest crawl of ``source`` (before run ``before_run``) did not end
        ``ok``: it may have stored some of its listings' articles and not others."""
        query = select(RUNS.c.status).where(
            RUNS.c.source == source, or_(RUNS.c.kind == "crawl", RUNS.c.kind.is_(None))
        )
        if before_run is not None:
            query = query.where(RUNS.c.id < before_run)
        query = query.order_by(RUNS.c.id.desc()).limit(1)
        status = self._read(lambda s: s.execute(query).scalar())
        return status is not None and status != "ok"

    def stats(self, run_ids: Sequence[int]) -> dict[int, RunStats]:
        """The recorded stats of these runs (runs without any are left out)."""
        if not run_ids:
            return {}
        query = select(RUN_STATS).where(RUN_STATS.c.run_id.in_(list(run_ids)))
        return self._read(
            lambda s: {
                row["run_id"]: RunStats(**{name: row[name] for name in _STAT_NAMES})
                for row in s.execute(query).mappings()
            }
        )

    def totals(self) -> list[RunTotals]:
        """Counters summed over every run, by source and status."""
        sums = (RUNS.c.pages, RUNS.c.new, RUNS.c.changed, RUNS.c.unchanged, RUNS.c.failures)
        query = (
            select(
                RUNS.c.source,
                RUNS.c.status,
                func.count(),
                *(func.coalesce(func.sum(column), 0) for column in sums),
            )
            .group_by(RUNS.c.source, RUNS.c.status)
            .order_by(RUNS.c.source, RUNS.c.status)
        )
        return self._read(
            lambda s: [RunTotals(*(r[:2]), *(int(v) for v in r[2:])) for r in s.execute(query)]
        )

    def last_success(self) -> dict[str, datetime]:
        """By source, when its latest successful run finished."""
        query = (
            select(RUNS.c.source, func.max(RUNS.c.finished_at))
            .where(RUNS.c.status == "ok", RUNS.c.finished_at.is_not(None))
            .group_by(RUNS.c.source)
        )
        return self._read(lambda s: {source: moment for source, moment in s.execute(query)})

    def first_run_at(self, source: str) -> datetime | None:
        """When the first run of ``source`` started."""
        query = select(func.min(RUNS.c.started_at)).where(RUNS.c.source == source)
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    def last_new_article_at(self, source: str) -> datetime | None:
        """When the latest run of ``source`` that stored a new article finished (or began)."""
        query = select(func.max(func.coalesce(RUNS.c.finished_at, RUNS.c.started_at))).where(
            RUNS.c.source == source, RUNS.c.new > 0
        )
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    # -- the monitoring daemon's state of each source ------------------------------------

    def save_source_state(self, state: SourceState) -> None:
        """Create or replace the daemon's state row of ``state.source``."""
        row = asdict(state)
        columns = [name for name in row if name != "source"]
        self._write(lambda s: s.execute(upsert(s, STATES, ["source"], columns).values(row)))

    def source_states(self) -> dict[str, SourceState]:
        """Every source's daemon state, by source."""
        query = select(STATES).order_by(STATES.c.source)
        return self._read(
            lambda s: {
                row["source"]: SourceState(**dict(row)) for row in s.execute(query).mappings()
            }
        )
