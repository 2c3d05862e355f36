"""Scheduling, with an injected clock: first run after downtime, jitter bounds, misfire grace,
coalescing and no overlapping runs. Nothing here sleeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.base import BaseScheduler

from scheduler.daemon.schedule import (
    GridIntervalTrigger,
    first_run_time,
    job_options,
    make_trigger,
    misfire_grace,
    pause_for,
    reload_changes,
)
from scheduler.daemon.settings import DaemonConfig, SourceConfig

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
EVERY_15 = SourceConfig(name="kcna", every=15 * MIN, jitter=timedelta(0))
CRON_15 = SourceConfig(name="kcna", cron="*/15 * * * *", every=None, jitter=timedelta(0))
DAEMON = DaemonConfig()


# -- first run after a start ----------------------------------------------------------------


def test_never_run_runs_at_once() -> None:
    assert first_run_time(EVERY_15, "UTC", None, T0) == T0


def test_a_run_missed_during_downtime_happens_at_once_and_once() -> None:
    # Down for 3 hours: twelve runs were due; one happens, now.
    assert first_run_time(EVERY_15, "UTC", T0 - 3 * 60 * MIN, T0) == T0
    options = job_options(EVERY_15, DAEMON, T0 - 3 * 60 * MIN, T0)
    assert options["next_run_time"] == T0
    trigger = options["trigger"]
    assert trigger.get_next_fire_time(T0, T0) == T0 + 15 * MIN


def test_a_recent_run_is_followed_one_interval_after_it_started() -> None:
    assert first_run_time(EVERY_15, "UTC", T0 - 5 * MIN, T0) == T0 + 10 * MIN


def test_a_last_run_in_the_future_clock_skew_runs_now() -> None:
    assert first_run_time(EVERY_15, "UTC", T0 + 5 * MIN, T0) == T0


def test_cron_first_run() -> None:
    # Last run 12:00, now 12:05: the next cron time, 12:15.
    assert first_run_time(CRON_15, "UTC", T0, T0 + 5 * MIN) == T0 + 15 * MIN
    # Last run 11:00, now 12:05: 11:15 was missed, so at once.
    assert first_run_time(CRON_15, "UTC", T0 - 60 * MIN, T0 + 5 * MIN) == T0 + 5 * MIN


def test_cron_is_read_in_the_configured_time_zone() -> None:
    daily = SourceConfig(name="kcna", cron="0 6 * * *", every=None)
    trigger = make_trigger(daily, "Asia/Pyongyang", T0)
    fire = trigger.get_next_fire_time(None, T0)
    assert fire is not None
    assert fire.astimezone(UTC) == datetime(2026, 3, 1, 21, 0, tzinfo=UTC)  # 06:00 +09:00


# -- jitter ------------------------------------------------------------------------------


def test_jitter_stays_in_bounds_and_does_not_drift() -> None:
    source = SourceConfig(name="kcna", every=15 * MIN, jitter=MIN)
    assert source.effective_jitter == MIN
    trigger = make_trigger(source, "UTC", T0)
    assert isinstance(trigger, GridIntervalTrigger)
    fire = T0
    for n in range(1, 500):
        fire = trigger.get_next_fire_time(fire, fire)
        grid = T0 + n * 15 * MIN
        assert grid <= fire <= grid + MIN, n  # never before its slot, never drifting


def test_default_jitter_is_a_share_of_the_interval() -> None:
    assert SourceConfig(name="kcna", every=15 * MIN).effective_jitter == MIN
    assert SourceConfig(name="kcna", every=timedelta(seconds=20)).effective_jitter == timedelta(
        seconds=2
    )
    assert SourceConfig(name="kcna", cron="* * * * *", every=None).effective_jitter == timedelta(0)


def test_the_first_slot_after_now_when_there_is_no_previous_run() -> None:
    trigger = make_trigger(EVERY_15, "UTC", T0)
    assert trigger.get_next_fire_time(None, T0 + 20 * MIN) == T0 + 30 * MIN
    assert trigger.get_next_fire_time(None, T0 - MIN) == T0


# -- misfire grace -----------------------------------------------------------------------


def test_misfire_grace_is_one_interval_unless_configured() -> None:
    assert misfire_grace(EVERY_15, DAEMON, T0) == 900
    assert misfire_grace(CRON_15, DAEMON, T0) == 900
    assert misfire_grace(EVERY_15, DaemonConfig(misfire_grace=5 * MIN), T0) == 300
    tiny = SourceConfig(name="kcna", every=timedelta(seconds=1))
    assert misfire_grace(tiny, DAEMON, T0) == 5  # never less than the loop needs


# -- APScheduler with the job options, on a hand-driven clock ----------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now


class RecordingExecutor(BaseExecutor):
    """Runs nothing by itself: a submitted job stays "running" until the test finishes it."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[tuple[str, list[datetime]]] = []
        self.pending: list[Any] = []

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self.submitted.append((job.id, list(run_times)))
        self.pending.append((job, run_times))

    def finish_all(self) -> list[Any]:
        """Run the pending jobs' misfire checks and mark them done, as a worker would."""
        events = []
        for job, run_times in self.pending:
            events.extend(run_job(job, job._jobstore_alias, run_times, self._logger.name))
            self._run_job_success(job.id, [])
        self.pending = []
        return events


class ManualScheduler(BaseScheduler):
    """A scheduler whose loop the test turns by hand."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        pass


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(T0)

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return clock.now if tz is None else clock.now.astimezone(tz)

    import apscheduler.executors.base as executors_base
    import apscheduler.schedulers.base as schedulers_base

    monkeypatch.setattr(schedulers_base, "datetime", FakeDatetime)
    monkeypatch.setattr(executors_base, "datetime", FakeDatetime)
    return clock


def start(source: SourceConfig, last_start: datetime | None, clock: Clock):
    executor = RecordingExecutor()
    scheduler = ManualScheduler(timezone="UTC")
    scheduler.add_executor(executor, "default")
    events: list[Any] = []
    scheduler.add_listener(events.append, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    options = job_options(source, DAEMON, last_start, clock.now)
    scheduler.add_job(lambda: None, **options)
    scheduler.start()
    return scheduler, executor, events


def test_a_run_still_going_when_the_next_is_due_means_no_second_run(clock: Clock) -> None:
    scheduler, executor, events = start(EVERY_15, None, clock)
    scheduler._process_jobs()
    assert executor.submitted == [("kcna", [T0])]
    clock.now = T0 + 15 * MIN  # the first run is still going
    scheduler._process_jobs()
    assert len(executor.submitted) == 1
    assert [e.code for e in events] == [EVENT_JOB_MAX_INSTANCES]
    executor.finish_all()
    clock.now = T0 + 30 * MIN
    scheduler._process_jobs()
    assert executor.submitted[-1] == ("kcna", [T0 + 30 * MIN])
    scheduler.shutdown()


def test_runs_missed_while_the_machine_slept_are_coalesced_into_one(clock: Clock) -> None:
    scheduler, executor, _ = start(EVERY_15, None, clock)
    scheduler._process_jobs()
    executor.finish_all()
    clock.now = T0 + 100 * MIN  # asleep: 15, 30, 45, 60, 75 and 90 were due
    scheduler._process_jobs()
    assert executor.submitted[-1] == ("kcna", [T0 + 90 * MIN])  # once, the latest
    # 10 minutes late, within one interval's grace: it runs.
    assert EVENT_JOB_MISSED not in [e.code for e in executor.finish_all()]
    assert scheduler.get_job("kcna").next_run_time == T0 + 105 * MIN
    scheduler.shutdown()


def test_a_run_later_than_the_misfire_grace_is_skipped(clock: Clock) -> None:
    scheduler, executor, _ = start(EVERY_15, None, clock)
    scheduler._process_jobs()
    executor.finish_all()
    clock.now = T0 + 15 * MIN
    scheduler._process_jobs()  # due now, but the worker only gets to it much later
    clock.now = T0 + 31 * MIN
    assert [e.code for e in executor.finish_all()] == [EVENT_JOB_MISSED]
    scheduler.shutdown()


def test_the_daemon_guard_skips_an_overlapping_run() -> None:
    """Independently of APScheduler, a source's job never runs twice at once."""
    from scheduler.config import Config
    from scheduler.daemon.service import Daemon

    config = Config(path=None, database_url=None, daemon=DAEMON, sources={"kcna": EVERY_15})
    daemon = Daemon(config, db_url="sqlite://")
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(name: str, lapsed: object = None) -> None:
        calls.append(name)
        entered.set()
        release.wait(10)

    daemon._run_source = slow  # type: ignore[method-assign]
    first = threading.Thread(target=daemon._run_job, args=["kcna"])
    first.start()
    assert entered.wait(10)
    daemon._run_job("kcna")  # due again while the first still runs: skipped at once
    release.set()
    first.join(10)
    assert calls == ["kcna"]


# -- pausing a failing source ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "pause"),
    [(0, None), (2, None), (3, 15 * MIN), (4, 30 * MIN), (5, 60 * MIN), (9, 6 * 60 * MIN)],
)
def test_a_failing_source_pauses_longer_each_time(failures: int, pause: timedelta | None) -> None:
    assert pause_for(failures, EVERY_15) == pause


def test_pausing_can_be_switched_off() -> None:
    never = SourceConfig(name="kcna", every=15 * MIN, pause_after=0)
    assert pause_for(100, never) is None


def test_the_daemon_skips_runs_of_a_paused_source_and_resumes() -> None:
    from scheduler.config import Config
    from scheduler.daemon.service import Daemon
    from scheduler.daemon.supervisor import RunReport

    now = [T0]
    config = Config(path=None, database_url=None, daemon=DAEMON, sources={"kcna": EVERY_15})
    daemon = Daemon(config, db_url="sqlite://", clock=lambda: now[0])
    ran: list[datetime] = []
    daemon._run_source = lambda name, lapsed=None: ran.append(now[0])  # type: ignore[method-assign]

    for _ in range(3):
        daemon._finish("kcna", RunReport("kcna", None, 1.0, "HTTP 503"))
    state = daemon.states.get("kcna")
    assert state is not None
    assert (state.failures_in_row, state.paused_until) == (3, T0 + 15 * MIN)

    now[0] = T0 + 10 * MIN
    daemon._run_job("kcna")  # still paused
    now[0] = T0 + 16 * MIN
    daemon._run_job("kcna")
    assert ran == [T0 + 16 * MIN]


# -- what a reload changes ------------------------------------------------------------------


def _config(daemon: DaemonConfig = DAEMON, **sources: SourceConfig) -> Any:
    from scheduler.config import Config

    return Config(path=None, database_url=None, daemon=daemon, sources=sources)


def test_a_reload_reschedules_disables_or_only_notes_new_settings() -> None:
    every_30 = SourceConfig(name="kcna", every=30 * MIN, jitter=timedelta(0))
    watch = SourceConfig(name="kcnawatch", every=15 * MIN, jitter=timedelta(0))
    off = SourceConfig(name="kcnawatch", every=15 * MIN, enabled=False)
    slower = SourceConfig(name="kcna", every=15 * MIN, jitter=timedelta(0), max_pages=3)
    old = _config(kcna=EVERY_15, kcnawatch=watch)
    assert reload_changes(old, old) == []
    assert reload_changes(old, _config(kcna=every_30, kcnawatch=off)) == [
        ("kcna", "rescheduled"),
        ("kcnawatch", "disabled"),
    ]
    assert reload_changes(_config(kcna=EVERY_15, kcnawatch=off), old) == [
        ("kcnawatch", "rescheduled")
    ]
    assert reload_changes(old, _config(kcna=slower, kcnawatch=watch)) == [("kcna", "settings")]
    other_zone = DaemonConfig(timezone="Asia/Pyongyang")
    assert reload_changes(old, _config(other_zone, kcna=EVERY_15, kcnawatch=watch)) == [
        ("kcna", "rescheduled"),
        ("kcnawatch", "rescheduled"),
    ]
