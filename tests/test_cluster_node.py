"""A node's part of the cluster, with the time given: every node names a scheduled run by the
same slot, an interval grid starts at the epoch among peers, and a lease keeper stops the
crawl when its lease was taken, waits out a short database outage to record the end, and
gives a run back on a stop. Nothing sleeps but the keeper's own short waits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.daemon.cluster import LeaseKeeper
from scheduler.daemon.schedule import job_options, slot_of
from scheduler.daemon.settings import ClusterConfig, DaemonConfig, SourceConfig
from storage.cluster import ClaimView
from storage.errors import DatabaseUnavailable

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
EVERY_2S = SourceConfig(name="kcna", every=2 * S, jitter=timedelta(0))
DAILY = SourceConfig(name="kcna", cron="0 9 * * *", every=None, jitter=timedelta(0))
MONTHLY = SourceConfig(name="kcna", cron="0 9 1 * *", every=None, jitter=timedelta(0))


@pytest.mark.parametrize(
    ("at", "slot"),
    [(T0, T0), (T0 + 1.9 * S, T0), (T0 + 2 * S, T0 + 2 * S), (T0 + 3.3 * S, T0 + 2 * S)],
)
def test_a_run_is_named_by_its_grid_point(at: datetime, slot: datetime) -> None:
    assert slot_of(EVERY_2S, "UTC", at) == slot


def test_a_cron_run_is_named_by_its_latest_fire_time_even_days_back() -> None:
    jittered = datetime(2026, 3, 2, 9, 0, 20, tzinfo=UTC)
    assert slot_of(DAILY, "UTC", jittered) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    late = datetime(2026, 3, 20, 20, 0, tzinfo=UTC)
    assert slot_of(MONTHLY, "UTC", late) == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    twice = SourceConfig(name="kcna", cron="0 9 1,2 * *", every=None, jitter=timedelta(0))
    assert slot_of(twice, "UTC", late) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # weeks back


def test_among_peers_the_grid_starts_at_the_epoch_and_the_due_slot_runs_at_once() -> None:
    now = T0 + 3.5 * S
    options = job_options(EVERY_2S, DaemonConfig(), T0 + 3 * S, now, aligned=True)
    assert options["next_run_time"] == now  # its slot (T0 + 2s) is skipped if claimed
    trigger = options["trigger"]
    assert trigger.get_next_fire_time(now, now) == T0 + 4 * S
    alone = job_options(EVERY_2S, DaemonConfig(), T0 + 3 * S, now)
    assert alone["next_run_time"] == T0 + 5 * S  # one interval after its last start


def claim() -> ClaimView:
    return ClaimView("kcna", T0, "a", 1, T0 + 3 * S, "running", 7, T0, None)


class Cluster:
    """Stands for ``repo.cluster``: renewals answered from ``renewals``; the end fails
    ``outages`` times as if the database were away."""

    def __init__(self, renewals: list[bool], outages: int = 0) -> None:
        self.renewals, self.outages = renewals, outages
        self.ended: list[str] = []
        self.renewed = threading.Event()

    def renew(self, claim: ClaimView, *, lease_until: datetime) -> bool:
        kept = self.renewals.pop(0) if self.renewals else True
        self.renewed.set()
        return kept

    def _end(self, how: str) -> bool:
        if self.outages:
            self.outages -= 1
            raise DatabaseUnavailable("connection refused")
        self.ended.append(how)
        return True

    def finish(self, claim: ClaimView, *, at: datetime) -> bool:
        return self._end("done")

    def release(self, claim: ClaimView, *, at: datetime) -> bool:
        return self._end("released")


class Repo:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster


def keeper(cluster: Cluster, on_lost: Any = lambda: None) -> LeaseKeeper:
    settings = ClusterConfig(lease=timedelta(seconds=3))
    made = LeaseKeeper(Repo(cluster), claim(), settings, lambda: T0, on_lost)  # type: ignore[arg-type]
    made._every = 0.01  # renew at once in the test
    return made


def test_a_lease_taken_by_another_node_stops_the_crawl_and_records_nothing() -> None:
    lost = threading.Event()
    cluster = Cluster(renewals=[True, False])
    held = keeper(cluster, lost.set)
    held.start()
    assert lost.wait(5)
    assert held.end(give_back=False) is False and held.lost
    assert cluster.ended == []


def test_the_end_is_recorded_through_a_short_outage_and_a_stop_gives_the_run_back() -> None:
    cluster = Cluster(renewals=[], outages=2)
    held = keeper(cluster)
    held.until = T0 + timedelta(hours=1)  # the lease is far from over
    held.start()
    assert cluster.renewed.wait(5)
    assert held.end(give_back=True) is True
    assert cluster.ended == ["released"] and not held.lost
