"""What every page of ``kcna-monitor serve`` reads from: the archive, the configuration and
the clock (:class:`WebContext`), and the answers several pages share: the health verdict,
the metrics, the status of the sources.

Every answer is computed from the database, so the server runs beside the daemon or on its
own, on another machine even. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request

from scheduler.config import Config
from scheduler.configtypes import format_duration
from scheduler.daemon.schedule import period
from scheduler.daemon.status import nodes_report, status_report
from scheduler.monitor.health import alarms_json
from scheduler.monitor.outbox import utc_now
from scheduler.web.metrics import render
from scheduler.web.shared import SharedReads
from storage.db import ping
from storage.errors import StorageError
from storage.repository import Repository


@dataclass
class WebContext:
    """The archive the server reads, its configuration and its clock."""

    repo: Repository
    config: Config
    db_url: str
    clock: Callable[[], datetime] = utc_now
    shared: SharedReads = field(default_factory=SharedReads)

    @property
    def sweeps(self) -> dict[str, timedelta]:
        """Source name -> its archive sweep period, for the sources that sweep."""
        return {
            name: source.sweep_period
            for name, source in self.config.sources.items()
            if source.sweep_period is not None
        }

    def health(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``: 200 and ``status: ok``, or 503 and ``status: fail`` when the
        database is unreachable, a source is in alarm, or a source's last successful run is
        older than ``[web] stale_after`` of its intervals (no daemon is crawling it)."""
        try:
            ping(self.repo.engine)
            alarms = self.repo.alarms.active()
            stale = self.stale_sources()
        except StorageError as error:
            return 503, {
                "status": "fail",
                "database": f"unreachable: {error}",
                "alarms": [],
                "stale": {},
            }
        failing = bool(alarms or stale)
        report = {
            "status": "fail" if failing else "ok",
            "database": "ok",
            "alarms": alarms_json(alarms),
            "stale": stale,
        }
        return (503 if failing else 200), report

    def stale_sources(self) -> dict[str, str]:
        """Enabled source -> why it is stale, for each source whose last successful run
        (else, for a source that has not succeeded yet, its first run's start) is older
        than ``stale_after`` intervals; a source that never ran is stale too."""
        multiple = self.config.web.stale_after
        if multiple is None:
            return {}
        now = self.clock()
        last = self.repo.runs.last_success()
        stale: dict[str, str] = {}
        for source in self.config.enabled_sources():
            interval = period(source, self.config.daemon.timezone, now)
            limit = interval * multiple
            since = last.get(source.name)
            what = "last successful run"
            if since is None:
                since, what = (
                    self.repo.runs.first_run_at(source.name),
                    "first run, still no success,",
                )
            if since is None:
                stale[source.name] = "no run yet"
            elif now - since > limit:
                age, every = format_duration(_whole(now - since)), format_duration(interval)
                stale[source.name] = (
                    f"{what} {age} ago (every {every}; limit {format_duration(_whole(limit))})"
                )
        return stale

    def metrics(self) -> str:
        now = self.clock()
        lease = self.config.cluster.lease
        return render(
            self.repo, self.sweeps, now, lambda: nodes_report(self.repo, now, lease)
        ).decode()

    def status(self) -> dict[str, Any]:
        """What ``status --json`` prints."""
        return status_report(self.config, self.db_url, self.repo, self.clock())


def context_of(request: Request) -> WebContext:
    """The :class:`WebContext` of the app serving ``request``."""
    return request.app.state.context  # type: ignore[no-any-return]


def _whole(value: timedelta) -> timedelta:
    return timedelta(seconds=round(value.total_seconds()))
