"""When each source runs: triggers, the first run after a start, misfire grace, jitter.

Pure functions of a source's configuration and a given ``now``, so they are tested with
fixed datetimes. The daemon (:mod:`scheduler.daemon.service`) hands their results to APScheduler.

- A source runs ``every`` interval on a fixed grid, each run delayed by a random jitter
  in ``[0, jitter]`` that does not accumulate from run to run; or on a cron expression.
- After downtime a source whose last run is older than one interval runs at once, once;
  otherwise its first run is one interval after its last start.
- A run may start up to ``misfire_grace`` late (default: one interval), so a run missed
  while the machine slept happens once on waking rather than being dropped.
- Several daemons on one archive must agree on which scheduled run is which: there, an
  interval grid starts at the Unix epoch (``aligned``) and each run is named by its *slot*
  (:func:`slot_of`), the latest time at or before it that the schedule gives, jitter aside.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from math import ceil, floor
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.config import Config
from scheduler.configtypes import format_duration
from scheduler.daemon.settings import DaemonConfig, SourceConfig, cron_trigger

#: A run may start this late at the least (APScheduler's loop itself takes a moment).
MIN_MISFIRE_GRACE = timedelta(seconds=5)
#: Where every node's interval grid starts.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How far back :func:`slot_of` looks for a cron's latest fire time, at most.
_CRON_LOOKBACK = timedelta(days=400)


class GridIntervalTrigger(IntervalTrigger):
    """An interval trigger whose jitter does not drift.

    APScheduler 3 adds the interval to the previous *jittered* fire time, so each run
    starts on average half a jitter later than the one before. Here every fire time is
    ``start_date + n * interval`` plus a fresh jitter (jitter is shorter than the interval).
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        start = self.start_date.timestamp()
        step = self.interval_length
        if previous_fire_time is not None:
            number = floor((previous_fire_time.timestamp() - start) / step + 1e-9) + 1
        else:
            number = max(0, ceil((now.timestamp() - start) / step - 1e-9))
        fire = start + number * step
        if self.jitter:
            fire += random.uniform(0, self.jitter)
        if self.end_date is not None and fire > self.end_date.timestamp():
            return None
        return datetime.fromtimestamp(fire, tz=self.timezone)


def make_trigger(source: SourceConfig, timezone: str, start: datetime) -> BaseTrigger:
    """The trigger of a source; an interval grid starts at ``start`` (its first run)."""
    jitter = source.effective_jitter.total_seconds() or None
    zone = ZoneInfo(timezone)
    if source.cron is not None:
        trigger: CronTrigger = cron_trigger(source.cron, timezone)
        trigger.jitter = jitter
        return trigger
    assert source.every is not None
    return GridIntervalTrigger(
        seconds=source.every.total_seconds(), start_date=start, timezone=zone, jitter=jitter
    )


def grid_floor(at: datetime, step: timedelta) -> datetime:
    """The latest point at or before ``at`` of the grid of ``step`` from the epoch."""
    return EPOCH + step * ((at - EPOCH) // step)


def slot_of(source: SourceConfig, timezone: str, at: datetime) -> datetime:
    """The scheduled run that a run starting at ``at`` is: the same on every node.

    ``every``: the grid point at or before ``at`` (the grid starts at the epoch; a jitter is
    shorter than the interval). ``cron``: its latest fire time at or before ``at``.
    """
    if source.every is not None:
        return grid_floor(at, source.every)
    assert source.cron is not None
    trigger = cron_trigger(source.cron, timezone)
    back = max(period(source, timezone, at), timedelta(minutes=1))
    while True:
        latest = None
        fire = trigger.get_next_fire_time(None, at - back)
        while fire is not None and fire <= at:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if latest is not None or back >= _CRON_LOOKBACK:
            return (latest or at).astimezone(UTC)
        back *= 2


def period(source: SourceConfig, timezone: str, now: datetime) -> timedelta:
    """The time between two runs (for cron: between the next two fire times)."""
    if source.every is not None:
        return source.every
    assert source.cron is not None
    trigger = cron_trigger(source.cron, timezone)
    first = trigger.get_next_fire_time(None, now)
    if first is None:
        return timedelta(days=1)
    second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1))
    return (second - first) if second is not None else timedelta(days=1)


def first_run_time(
    source: SourceConfig, timezone: str, last_start: datetime | None, now: datetime
) -> datetime:
    """When a source first runs after the daemon starts (or its schedule changes).

    Never run, or a run was due since its last start (the daemon was down): now, once.
    Otherwise: when the schedule says the next run after its last start is.
    """
    if last_start is None or last_start > now:
        return now
    if source.every is not None:
        due = last_start + source.every
        return now if due <= now else due
    assert source.cron is not None
    trigger = cron_trigger(source.cron, timezone)
    due_cron = trigger.get_next_fire_time(None, last_start + timedelta(seconds=1))
    if due_cron is None or due_cron <= now:
        return now
    return due_cron


def misfire_grace(source: SourceConfig, daemon: DaemonConfig, now: datetime) -> int:
    """Seconds a run may start late: the configured grace, else one period (at least 5 s)."""
    grace = daemon.misfire_grace or period(source, daemon.timezone, now)
    return int(max(grace, MIN_MISFIRE_GRACE).total_seconds())


def job_options(
    source: SourceConfig,
    daemon: DaemonConfig,
    last_start: datetime | None,
    now: datetime,
    *,
    aligned: bool = False,
) -> dict[str, Any]:
    """Everything ``scheduler.add_job`` needs to know about a source's job; ``aligned``:
    an interval grid from the epoch (several daemons on one archive), else from the first
    run."""
    first = first_run_time(source, daemon.timezone, last_start, now)
    start = first
    if aligned and source.every is not None:
        # The slot due now, at once: claimed already by a peer (or this archive's last
        # run), it is skipped; else it was missed and runs now.
        first, start = now, grid_floor(now, source.every)
    return {
        "trigger": make_trigger(source, daemon.timezone, start),
        "id": source.name,
        "name": source.name,
        "next_run_time": first,
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": misfire_grace(source, daemon, now),
        "replace_existing": True,
    }


def when(next_run_at: datetime | None, now: datetime) -> str:
    """``in 5m``, ``now`` or ``not scheduled``: when a run comes, for log lines."""
    if next_run_at is None:
        return "not scheduled"
    delay = next_run_at - now
    if delay <= timedelta(seconds=1):
        return "now"
    return f"in {format_duration(timedelta(seconds=round(delay.total_seconds())))}"


def pause_for(failures_in_row: int, source: SourceConfig) -> timedelta | None:
    """How long a source pauses after ``failures_in_row`` failed runs (None: not at all).

    From ``source.pause_after`` failures on: one interval (15 minutes for a cron schedule),
    doubled with every further failure, at most ``source.pause_max``.
    """
    if source.pause_after <= 0 or failures_in_row < source.pause_after:
        return None
    interval = source.every or timedelta(minutes=15)
    doublings = min(failures_in_row - source.pause_after, 30)
    return min(source.pause_max, interval * 2**doublings)


def reload_changes(old: Config, new: Config) -> list[tuple[str, str]]:
    """What a reload from ``old`` to ``new`` changes per source: ``disabled``,
    ``rescheduled`` (enabled, or its schedule or the daemon's settings changed) or
    ``settings`` (only what its crawls run with); unchanged sources are left out."""
    changes: list[tuple[str, str]] = []
    daemon_changed = old.daemon != new.daemon
    for name, source in new.sources.items():
        before = old.sources[name]
        if before.enabled and not source.enabled:
            changes.append((name, "disabled"))
        elif source.enabled and (
            not before.enabled or daemon_changed or before.schedule_key() != source.schedule_key()
        ):
            changes.append((name, "rescheduled"))
        elif source.enabled and before != source:
            changes.append((name, "settings"))
    return changes
