"""Archive sweeps: every stored article rechecked at least once a period, a few per run.

A scheduled crawl adds to its requests a share of the source's stored articles, fetched again
conditionally like revisits (a 304 costs little; an edit gives a new version, a 404 a gone
mark): the least recently checked first, the never re-checked ones (newest first) before all.
How many a run takes is :meth:`Sweep.quota`: enough for the whole archive to be checked within
the period, given how often the source runs, and never more than the per-run budget, so a sweep
never floods a run.

The daemon passes a source's sweep to its crawls in three Scrapy settings (read by the
archive-state extension): ``KCNA_MONITOR_SWEEP_EVERY`` (the period, in seconds; 0 or unset:
no sweep), ``KCNA_MONITOR_SWEEP_BUDGET`` (requests per run) and
``KCNA_MONITOR_SWEEP_INTERVAL`` (how often the source runs, in seconds). Imports no Scrapy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

EVERY = "KCNA_MONITOR_SWEEP_EVERY"
BUDGET = "KCNA_MONITOR_SWEEP_BUDGET"
INTERVAL = "KCNA_MONITOR_SWEEP_INTERVAL"

DEFAULT_EVERY = timedelta(days=30)
DEFAULT_BUDGET = 50


class _Settings(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...


@dataclass(frozen=True)
class Sweep:
    """A source's sweep: each article checked once per ``every``, at most ``budget`` checks
    in one run, runs every ``interval``."""

    every: timedelta
    budget: int
    interval: timedelta

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ValueError(f"{EVERY}: the period must be more than 0s")
        if self.budget < 0:
            raise ValueError(f"{BUDGET}: the budget must be 0 or more")
        if self.interval <= timedelta(0):
            raise ValueError(f"{INTERVAL}: the interval must be more than 0s")

    def quota(self, articles: int) -> int:
        """How many of ``articles`` stored articles one run checks: ``ceil(articles *
        interval / every)`` (all of them within the period), at most the budget."""
        if articles <= 0:
            return 0
        share = articles * self.interval.total_seconds() / self.every.total_seconds()
        return min(self.budget, math.ceil(share))

    def cutoff(self, now: datetime) -> datetime:
        """Articles last checked before this are due (never re-checked ones always are)."""
        return now - self.every

    @classmethod
    def from_settings(cls, settings: _Settings) -> Sweep | None:
        """The sweep the settings ask for; None when there is none (no period, or 0)."""
        every = _number(settings, EVERY, 0.0, float)
        if every <= 0:
            return None
        budget = _number(settings, BUDGET, DEFAULT_BUDGET, int)
        interval = _number(settings, INTERVAL, every, float)
        return cls(timedelta(seconds=every), budget, timedelta(seconds=interval))

    def to_settings(self) -> dict[str, str]:
        """The settings that pass this sweep to a crawl."""
        return {
            EVERY: f"{self.every.total_seconds():g}",
            BUDGET: str(self.budget),
            INTERVAL: f"{self.interval.total_seconds():g}",
        }


def _number(settings: _Settings, name: str, default: Any, kind: type) -> Any:
    """A setting's number; a ValueError naming the setting when it is not one."""
    value = settings.get(name)
    if not value:  # unset, empty or 0: the default
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number of seconds"
        raise ValueError(f"{name}: expected {what}, got {value!r}") from None
