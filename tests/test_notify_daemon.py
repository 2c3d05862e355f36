"""Delivery never blocks crawling: the daemon sends notifications on a thread of its own, so a
webhook that never answers does not hold up a source's runs, and a run's notifications still
go out right after it. The daemon runs in-process with a fake crawl and an injected clock;
every receiver is on 127.0.0.1, and nothing sleeps."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.config import Config
from scheduler.daemon.child import ChildResult
from scheduler.daemon.service import DELIVERY_EVERY, Daemon
from scheduler.daemon.settings import DaemonConfig, SourceConfig
from scheduler.daemon.supervisor import RunReport
from scheduler.monitor.notify.delivery import DeliveryReport
from scheduler.monitor.outbox import DeliveryWorker
from storage.db import make_engine
from storage.repository import Repository
from tests.monitor_helpers import Clock, hanging_webhook, monitoring, webhook_receiver
from tests.storage_helpers import make_item, notifications

MISSILE_TEXT = "Pyongyang, March 1 (KCNA) -- A hypersonic missile was test-fired."
WAIT = 10.0  # seconds: far less than the notify timeout of the hanging webhook


class FakeCrawl:
    """Stands for the crawl's child process: stores one new article that the watch rule
    matches and records the run as ok, at once."""

    def __init__(self, repo: Repository, clock: Clock, run_id: int, n: int) -> None:
        self.repo, self.clock, self.run_id, self.n = repo, clock, run_id, n

    def run(self) -> ChildResult:
        item = make_item(self.n, title=f"Missile test {self.n}", text=MISSILE_TEXT)
        self.repo.articles.save([item])
        self.repo.runs.finish(
            self.run_id,
            finished_at=self.clock(),
            status="ok",
            pages=1,
            new=1,
            changed=0,
            unchanged=0,
            failures=0,
        )
        return ChildResult(returncode=0, seconds=0.0)

    def request_stop(self, grace: float) -> None:
        pass


class FakeCrawls:
    """The daemon's crawl factory: crawl number n stores article n."""

    def __init__(self, repo: Repository, clock: Clock) -> None:
        self.repo, self.clock = repo, clock
        self._numbers = itertools.count(1)

    def __call__(
        self, command: Sequence[str], *, timeout: float, kill_after: float, output: Any
    ) -> FakeCrawl:
        run_id = int(command[list(command).index("--run-id") + 1])
        return FakeCrawl(self.repo, self.clock, run_id, next(self._numbers))


class Runs:
    """The daemon's ``on_run`` hook: the finished runs, waited for with a timeout."""

    def __init__(self) -> None:
        self.reports: list[RunReport] = []
        self._changed = threading.Condition()

    def __call__(self, report: RunReport) -> None:
        with self._changed:
            self.reports.append(report)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT) -> list[RunReport]:
        with self._changed:
            done = self._changed.wait_for(lambda: len(self.reports) >= count, timeout)
            assert done, f"{len(self.reports)} runs finished in {timeout}s, expected {count}"
            return list(self.reports)


def daemon_config(target: str, **notify: str) -> Config:
    rule = {"name": "missiles", "match": "missile", "notify": [target], "max_age": False}
    kcna = SourceConfig(name="kcna", every=timedelta(hours=1), jitter=timedelta(0))
    return Config(
        path=None,
        database_url=None,
        daemon=DaemonConfig(timezone="UTC"),
        sources={"kcna": kcna},
        monitoring=monitoring([rule], notify=notify),
    )


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    """The daemon serving on a thread; stopped (and waited for) on the way out."""
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run()), daemon=True)
    thread.start()
    assert daemon.started.wait(30), "the daemon did not start"
    try:
        yield daemon
    finally:
        daemon.request_stop()
        thread.join(30)
        assert not thread.is_alive(), "the daemon did not stop"
        assert codes == [0]


def run_now(daemon: Daemon, source: str) -> None:
    """Have the scheduler run the source's job now (its next scheduled run, brought forward)."""
    assert daemon._scheduler is not None
    daemon._scheduler.modify_job(source, next_run_time=datetime.now(UTC))


def test_a_webhook_that_never_answers_does_not_delay_the_sources_runs(
    migrated_sqlite: str,
) -> None:
    db_url, repo = migrated_sqlite, Repository(make_engine(migrated_sqlite))
    clock = Clock(datetime.now(UTC))  # APScheduler keeps real time: start due at once
    runs = Runs()
    with hanging_webhook() as hanging:
        # Each attempt may hang for 60 s; the test waits at most 10 s for anything.
        config = daemon_config(f"webhook:{hanging.url}", timeout="60s")
        daemon = Daemon(
            config, db_url=db_url, clock=clock, crawl_factory=FakeCrawls(repo, clock), on_run=runs
        )
        with running(daemon):
            try:
                [first] = runs.wait_for(1)  # the run's job has returned: it did not deliver
                assert first.status == "ok"
                assert hanging.accepted.wait(WAIT), "the notification was not sent"
                # The delivery of run 1's notification now hangs; the source runs again.
                run_now(daemon, "kcna")
                second = runs.wait_for(2)[1]
                assert second.status == "ok" and not hanging.released.is_set()
                sending, queued = notifications(repo.engine)
                assert (sending.status, sending.attempts) == ("pending", 0)
                assert sending.next_attempt_at > clock()  # leased: being sent
                assert (queued.status, queued.attempts) == ("pending", 0)
                assert [sending.payload["title"], queued.payload["title"]] == [
                    "Missile test 1",
                    "Missile test 2",
                ]
                lock = daemon.monitoring._lock
                assert lock.acquire(blocking=False)  # not held while sending
                lock.release()
            finally:
                hanging.release()  # the daemon stops at once; the attempts become retries
    # The hanging attempt failed when the connection closed: tried again later. The second
    # notification was sent too, or is still queued if the stop came first.
    sent, other = notifications(repo.engine)
    assert (sent.status, sent.attempts) == ("pending", 1)
    assert "cannot reach" in (sent.last_error or "")
    assert other.status == "pending"


def test_a_runs_notifications_are_sent_right_after_it(migrated_sqlite: str) -> None:
    db_url, repo = migrated_sqlite, Repository(make_engine(migrated_sqlite))
    clock = Clock(datetime.now(UTC))
    runs = Runs()
    with webhook_receiver() as hook:
        hook.start()
        daemon = Daemon(
            daemon_config(f"webhook:{hook.url}"),
            db_url=db_url,
            clock=clock,
            crawl_factory=FakeCrawls(repo, clock),
            on_run=runs,
        )
        with running(daemon):
            runs.wait_for(1)
            # Woken by the run: well before the periodic delivery would come round.
            assert WAIT < DELIVERY_EVERY
            [post] = hook.wait_for(1, timeout=WAIT)
            run_now(daemon, "kcna")
            runs.wait_for(2)
            posts = hook.wait_for(2, timeout=WAIT)
    assert [p["title"] for p in posts] == ["Missile test 1", "Missile test 2"]
    assert post["rule"] == "missiles"
    rows = notifications(repo.engine)
    assert [(row.status, row.attempts) for row in rows] == [("delivered", 1), ("delivered", 1)]


class BlockingMonitor:
    """A stand-in :class:`Monitor` whose deliveries block until the test lets them end."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()

    def deliver(self, *, should_stop: Any = None) -> DeliveryReport:
        self.calls += 1
        self.entered.set()
        self.release.wait(WAIT)
        self.returned.set()
        return DeliveryReport()


def test_the_delivery_worker_delivers_again_when_woken_during_a_delivery() -> None:
    monitor = BlockingMonitor()
    worker = DeliveryWorker(lambda: monitor, every=3600)  # type: ignore[arg-type, return-value]
    worker.start()  # delivers at once: what a previous daemon left
    assert monitor.entered.wait(WAIT)
    monitor.entered.clear()
    worker.wake()  # returns at once although a delivery is under way
    assert monitor.calls == 1
    assert not worker.stop(0.01)  # still sending: not waited for
    monitor.release.set()
    assert monitor.returned.wait(WAIT)
    assert worker.stop(WAIT)
    assert monitor.calls == 1  # stopping wins over the pending wake


def test_the_delivery_worker_runs_each_wake_after_the_one_under_way() -> None:
    monitor = BlockingMonitor()
    worker = DeliveryWorker(lambda: monitor, every=3600)  # type: ignore[arg-type, return-value]
    worker.start()
    assert monitor.entered.wait(WAIT)
    monitor.entered.clear()
    worker.wake()
    worker.wake()  # two wakes during one delivery: one more delivery
    monitor.release.set()
    assert monitor.entered.wait(WAIT)
    assert worker.stop(WAIT)
    assert monitor.calls == 2
