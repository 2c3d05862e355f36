"""This daemon as one node of several sharing a PostgreSQL archive.

Every daemon on PostgreSQL is a node (alone, it is a cluster of one); the database is the
only thing nodes share (see :mod:`storage.cluster` for the tables and their guarantees):

- Each scheduled run is a slot (:func:`scheduler.daemon.schedule.slot_of`). Every node's
  scheduler fires it; the node that claims it first (:meth:`ClusterNode.claim`) runs it and
  the others skip it. The slot's sweep (its share of the archive to check again) runs in
  its crawl, so it is claimed with it; each notification's delivery is claimed apart (see
  :mod:`scheduler.monitor.notify.delivery`). Runs of one source on one node never overlap;
  on two nodes they may. A node that ends a run claims the slot due then if nobody has:
  it came due while every node was busy (:func:`run_slots`).
- While the crawl runs, a :class:`LeaseKeeper` renews the claim's lease every third of
  ``[cluster] lease``. When a renewal is refused (the node was frozen or cut off for longer
  than the lease and another node took the run over), the crawl is stopped at once and its
  outcome is not recorded: the new owner's stands.
- A thread (:class:`ClusterNode`) checks in every third of the lease (what the node runs,
  the hash of its configuration) and looks for claims whose lease passed or that a stopping
  node gave back; the daemon takes each over (:meth:`ClusterNode.take_over`) and runs it once.
- On SIGTERM the node's running crawls are stopped and their claims given back at once
  (:meth:`LeaseKeeper.end`), so a rolling restart misses no run.
- A database outage is waited out: renewals and the claim's last write are tried again
  until the lease ends; a slot that could not be claimed while the database was away is
  not run by this node.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from importlib import metadata

from crawler.sources import SOURCES
from scheduler.daemon.schedule import slot_of
from scheduler.daemon.settings import ClusterConfig, SourceConfig
from scheduler.daemon.supervisor import RunReport, RunSupervisor
from storage.cluster import ClaimView, NodeView, RunOwner, Takeover
from storage.errors import StorageError
from storage.repository import Repository

logger = logging.getLogger("daemon")

#: A node that has not checked in for this long is forgotten (no longer listed).
FORGET_AFTER = timedelta(days=1)


def package_version() -> str:
    try:
        return metadata.version("kcna-monitor")
    except metadata.PackageNotFoundError:
        return "unknown"


class LeaseKeeper:
    """Keeps one claim's lease while its crawl runs, on a thread of its own; ``on_lost`` is
    called (once, on that thread) when another node has taken the claim over."""

    def __init__(
        self,
        repo: Repository,
        claim: ClaimView,
        settings: ClusterConfig,
        clock: Callable[[], datetime],
        on_lost: Callable[[], None],
    ) -> None:
        self.claim = claim
        self.until = claim.lease_until  # the lease as last renewed
        self.lost = False
        self._repo = repo
        self._lease = settings.lease
        self._every = settings.check_every
        self.clock = clock
        self._on_lost = on_lost
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _renew(self) -> None:
        while not self._done.wait(self._every):
            until = self.clock() + self._lease
            try:
                kept = self._repo.cluster.renew(self.claim, lease_until=until)
            except StorageError as error:
                logger.warning("%s: could not renew the lease: %s", self.claim.source, error)
                continue
            if kept:
                self.until = until
            else:
                self.lost = True
                self._on_lost()
                return

    def end(self, *, give_back: bool) -> bool:
        """Stop renewing and record the slot as done (or give it back unfinished, for
        another node to run at once); False when it was no longer this node's (``lost``)
        or the database stayed away until the lease passed."""
        self._done.set()
        self._thread.join()
        if self.lost:
            return False
        wait = threading.Event()
        while True:
            now = self.clock()
            try:
                end = self._repo.cluster.release if give_back else self._repo.cluster.finish
                kept = end(self.claim, at=now)
                self.lost = not kept  # refused: another node holds the claim now
                return kept
            except StorageError as error:
                if now >= self.until:  # another node may take it over now
                    logger.error(
                        "%s: could not record the run's end (another node will take the run"
                        " over): %s",
                        self.claim.source,
                        error,
                    )
                    return False
                source = self.claim.source
                logger.warning("%s: recording the run's end failed, retrying: %s", source, error)
                wait.wait(min(self._every, 1.0))


class ClusterNode:
    """This node: its identity, check-ins, claims, and the look for runs to take over.

    ``running`` tells what the node runs now (for its check-ins); ``recover`` is given each
    claim another node let lapse or gave back (the daemon decides whether to take it).
    """

    def __init__(
        self,
        repo: Repository,
        settings: ClusterConfig,
        *,
        config_hash: str,
        clock: Callable[[], datetime],
        running: Callable[[], Sequence[str]],
        sources: Callable[[], Sequence[str]],
        recover: Callable[[ClaimView], None],
    ) -> None:
        self.repo = repo
        self.settings = settings
        self.config_hash = config_hash
        host, pid = socket.gethostname(), os.getpid()
        self.owner = RunOwner(f"{host}:{pid}:{secrets.token_hex(3)}", pid=pid, host=host)
        self.version = package_version()
        self.clock = clock
        self._running = running
        self._sources = sources
        self._recover = recover
        self.started_at = clock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cluster", daemon=True)

    @property
    def node_id(self) -> str:
        return self.owner.node_id

    def start(self) -> None:
        self.check_in()
        self._thread.start()

    def stop(self) -> None:
        """No more looks for runs to take over; the last check-in says the node stopped."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self.check_in(stopped=True)

    def check_in(self, *, stopped: bool = False) -> None:
        now = self.clock()
        node = NodeView(
            node_id=self.node_id,
            host=self.owner.host,
            pid=self.owner.pid,
            version=self.version,
            started_at=self.started_at,
            checked_in_at=now,
            stopped_at=now if stopped else None,
            running=", ".join(self._running()) or None,
            config_hash=self.config_hash,
        )
        try:
            self.repo.cluster.check_in(node)
        except StorageError as error:
            logger.warning("could not check in: %s", error)

    def _loop(self) -> None:
        looks = 0
        while not self._stopping.wait(self.settings.check_every):
            self.check_in()
            try:
                lapsed = self.repo.cluster.claimable(self.clock(), sources=self._sources())
                looks += 1
                if looks % 1000 == 1:
                    self.repo.cluster.forget_nodes(before=self.clock() - FORGET_AFTER)
            except StorageError as error:
                logger.warning("could not look for runs to take over: %s", error)
                continue
            for claim in lapsed:
                if self._stopping.is_set():
                    return
                self._recover(claim)

    # -- claims --------------------------------------------------------------------------

    def claim(self, source: str, slot_at: datetime) -> ClaimView | None:
        """Claim a scheduled run (None: another node has it)."""
        now = self.clock()
        return self.repo.cluster.claim(
            source,
            slot_at,
            label=SOURCES[source].label,
            owner=self.owner,
            lease_until=now + self.settings.lease,
            at=now,
        )

    def take_over(self, claim: ClaimView) -> Takeover | None:
        """Take over a lapsed or given-back claim (None: another node was first)."""
        now = self.clock()
        return self.repo.cluster.take_over(
            claim,
            label=SOURCES[claim.source].label,
            owner=self.owner,
            lease_until=now + self.settings.lease,
            at=now,
        )

    def keeper(self, claim: ClaimView, on_lost: Callable[[], None]) -> LeaseKeeper:
        return LeaseKeeper(self.repo, claim, self.settings, self.clock, on_lost)


def run_slots(
    node: ClusterNode,
    supervisor: RunSupervisor,
    source: SourceConfig,
    *,
    timezone: str,
    lapsed: ClaimView | None,
    stopping: Callable[[], bool],
    finish: Callable[[RunReport], None],
) -> None:
    """The source's job on this node: claim the slot due now (or take over ``lapsed``) and
    run it, ``finish`` its report; then once more, the slot due now, if it came while this
    ran and found no node free (it runs once, late, as a lone daemon runs a missed run)."""
    for taking in (lapsed, None):
        report = run_slot(
            node, supervisor, source, timezone=timezone, lapsed=taking, stopping=stopping
        )
        if report is None:
            return
        finish(report)
        if stopping():
            return


def run_slot(
    node: ClusterNode,
    supervisor: RunSupervisor,
    source: SourceConfig,
    *,
    timezone: str,
    lapsed: ClaimView | None,
    stopping: Callable[[], bool],
) -> RunReport | None:
    """Claim the slot due now (or take over ``lapsed``) and run it; None when another node
    has it, or it could not be claimed (the database is away: logged)."""
    name = source.name
    try:
        if lapsed is None:
            claim = node.claim(name, slot_of(source, timezone, node.clock()))
            if claim is None:
                logger.debug("%s: the run due now is another node's", name)
                return None
        else:
            taken = node.take_over(lapsed)
            if taken is None:
                return None
            claim = taken.claim
            if not taken.rerun:
                logger.info(
                    "%s: run %s due at %s had ended before node %s could record it; done",
                    name,
                    taken.previous_run,
                    f"{claim.slot_at:%Y-%m-%d %H:%M:%S}",
                    taken.previous_node,
                )
                return None
            logger.warning(
                "%s: took over the run due at %s from node %s%s; running it as run %s",
                name,
                f"{claim.slot_at:%Y-%m-%d %H:%M:%S}",
                taken.previous_node,
                f" (its run {taken.previous_run} recorded as interrupted)"
                if taken.previous_run is not None and lapsed.state == "running"
                else "",
                claim.run_id,
            )
    except StorageError as error:
        logger.warning("%s: could not claim the run due now, not running it: %s", name, error)
        return None
    return run_claimed(node, supervisor, source, claim, stopping=stopping)


def run_claimed(
    node: ClusterNode,
    supervisor: RunSupervisor,
    source: SourceConfig,
    claim: ClaimView,
    *,
    stopping: Callable[[], bool],
) -> RunReport:
    """Run a claimed slot, its lease kept meanwhile; a stop gives the slot back."""
    keeper = node.keeper(claim, on_lost=lambda: supervisor.stop_source(source.name))
    keeper.start()
    report: RunReport | None = None
    try:
        report = supervisor.run(source, run_id=claim.run_id)
        return report
    finally:
        give_back = stopping() and (report is None or report.status == "interrupted")
        if not keeper.end(give_back=give_back) and keeper.lost:
            logger.warning(
                "%s run %s: outcome not recorded: another node took the run due at %s over"
                " after this node's lease passed",
                source.name,
                claim.run_id,
                f"{claim.slot_at:%Y-%m-%d %H:%M:%S}",
            )
        elif give_back:
            logger.info("%s run %s: given back for another node to run", source.name, claim.run_id)
