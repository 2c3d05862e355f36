"""The cluster aggregate: several daemons (nodes) on one archive, coordinated only through
the database.

Nodes check in (:meth:`Cluster.check_in`): host, pid, version, start, what they run, and the
hash of their effective configuration, so ``status`` can list them and flag differences.

Each scheduled run of a source is a *slot*: the source and the time the schedule gave it
(every node computes the same slot from the same schedule). A node runs a slot only after
claiming it (:meth:`Cluster.claim`), which records the claim and the slot's crawl run in one
transaction. The claim is an ``INSERT ... ON CONFLICT DO NOTHING`` on the primary key
(source, slot): the row's existence *is* the fact that somebody owns the slot, so any number
of nodes may try at once and exactly one insert wins, without a lock held across anything,
with the same statement on PostgreSQL and SQLite, and leaving a durable record of every slot
(``FOR UPDATE SKIP LOCKED`` would need the rows to exist before they are claimed).

A claim holds a *lease* (``lease_until``) its node renews while the crawl runs
(:meth:`Cluster.renew`). A claim whose lease passed (its node died, froze or lost the
database) or that its node gave back on a planned stop (:meth:`Cluster.release`) is taken
over by another node (:meth:`Cluster.take_over`): a compare-and-set on the claim's *token*
that only one node can win, in one transaction with recording the previous run as
interrupted and superseded and starting the new owner's run. Every write of an outcome is
fenced by the token (:meth:`Cluster.finish`, :meth:`Cluster.renew`) or by the run's
``superseded_by`` (:mod:`storage.runs`): a node that comes back after its lease passed is
refused, never overwriting the new owner's outcome.

Times are the callers' (the nodes' clocks, which must agree to well within a lease).
Every method is one unit of work (see :mod:`storage.unit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from storage.cluster_models import CLAIMS, NODES
from storage.models import RUNS
from storage.unit import UnitOfWork, insert, upsert


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node as it last checked in."""

    node_id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    checked_in_at: datetime
    stopped_at: datetime | None
    running: str | None
    config_hash: str


@dataclass(frozen=True, slots=True)
class ClaimView:
    """One slot's claim: who holds it, until when, under which token."""

    source: str
    slot_at: datetime
    node_id: str
    token: int
    lease_until: datetime
    state: str
    run_id: int | None
    claimed_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunOwner:
    """The node that claims, and the process of it that records its runs."""

    node_id: str
    pid: int
    host: str


@dataclass(frozen=True, slots=True)
class Takeover:
    """A claim taken over: the new claim and what the previous holder left."""

    claim: ClaimView
    previous_node: str
    previous_run: int | None
    rerun: bool = True  # False: the previous run had ended; the claim is done with it


def _claim(row: Any) -> ClaimView:
    return ClaimView(**{name: row[name] for name in ClaimView.__slots__})


def _start_run(session: Session, label: str, owner: RunOwner, at: datetime) -> int:
    row = {
        "source": label,
        "started_at": at,
        "status": "running",
        "kind": "crawl",
        "pid": owner.pid,
        "host": owner.host,
        **dict.fromkeys(("pages", "new", "changed", "unchanged", "failures"), 0),
    }
    statement = insert(session, RUNS).values(row).returning(RUNS.c.id)
    return int(session.execute(statement).scalar_one())


def _ended(session: Session, run_id: int | None) -> bool:
    """Whether the run recorded its own end (ok or failed: not interrupted, not running)."""
    if run_id is None:
        return False
    status = session.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar()
    return status in ("ok", "failed")


def _held(claim: ClaimView) -> Any:
    """The claim's row, as long as its holder's token is the current one."""
    return and_(
        CLAIMS.c.source == claim.source,
        CLAIMS.c.slot_at == claim.slot_at,
        CLAIMS.c.token == claim.token,
    )


class Cluster(UnitOfWork):
    """Nodes' check-ins and the claims of scheduled runs."""

    # -- nodes ---------------------------------------------------------------------------

    def check_in(self, node: NodeView) -> None:
        """Create or replace the node's row (its latest check-in)."""
        row = {name: getattr(node, name) for name in NodeView.__slots__}
        columns = [name for name in row if name != "node_id"]
        self._write(lambda s: s.execute(upsert(s, NODES, ["node_id"], columns).values(row)))

    def nodes(self, *, since: datetime | None = None) -> list[NodeView]:
        """Nodes that checked in since ``since`` (every node when None), by start."""
        query = select(NODES).order_by(NODES.c.started_at, NODES.c.node_id)
        if since is not None:
            query = query.where(NODES.c.checked_in_at >= since)
        return self._read(
            lambda s: [
                NodeView(**{n: row[n] for n in NodeView.__slots__})
                for row in s.execute(query).mappings()
            ]
        )

    def forget_nodes(self, *, before: datetime) -> int:
        """Delete the nodes whose last check-in is older than ``before``; how many."""
        statement = delete(NODES).where(NODES.c.checked_in_at < before)
        return self._write(lambda s: int(s.execute(statement).rowcount))

    # -- claims --------------------------------------------------------------------------

    def claim(
        self,
        source: str,
        slot_at: datetime,
        *,
        label: str,
        owner: RunOwner,
        lease_until: datetime,
        at: datetime,
    ) -> ClaimView | None:
        """Claim the slot and record its crawl run (``label``: the run's source), or None
        when another node claimed it first."""
        row = {
            "source": source,
            "slot_at": slot_at,
            "node_id": owner.node_id,
            "token": 1,
            "lease_until": lease_until,
            "state": "running",
            "run_id": None,
            "claimed_at": at,
            "finished_at": None,
        }

        def work(session: Session) -> ClaimView | None:
            statement = (
                insert(session, CLAIMS)
                .values(row)
                .on_conflict_do_nothing(index_elements=["source", "slot_at"])
                .returning(CLAIMS.c.token)
            )
            if session.execute(statement).scalar_one_or_none() is None:
                return None
            run_id = _start_run(session, label, owner, at)
            key = and_(CLAIMS.c.source == source, CLAIMS.c.slot_at == slot_at)
            session.execute(update(CLAIMS).where(key).values(run_id=run_id))
            return ClaimView(**{**row, "run_id": run_id})

        return self._write(work)

    def renew(self, claim: ClaimView, *, lease_until: datetime) -> bool:
        """Extend the lease; False when the claim is no longer this holder's."""
        statement = (
            update(CLAIMS)
            .where(_held(claim), CLAIMS.c.state == "running")
            .values(lease_until=lease_until)
        )
        return self._write(lambda s: bool(s.execute(statement).rowcount))

    def finish(self, claim: ClaimView, *, at: datetime) -> bool:
        """The slot's run ended (whatever its outcome); False when the claim is no longer
        this holder's (its outcome must not count: another node took the slot over)."""
        statement = (
            update(CLAIMS)
            .where(_held(claim), CLAIMS.c.state == "running")
            .values(state="done", finished_at=at)
        )
        return self._write(lambda s: bool(s.execute(statement).rowcount))

    def release(self, claim: ClaimView, *, at: datetime) -> bool:
        """Give the slot back unfinished (a planned stop): the next node to look takes it
        over at once. False when it was no longer this holder's."""
        statement = (
            update(CLAIMS)
            .where(_held(claim), CLAIMS.c.state == "running")
            .values(state="released", lease_until=at)
        )
        return self._write(lambda s: bool(s.execute(statement).rowcount))

    def claimable(self, now: datetime, *, sources: Sequence[str]) -> list[ClaimView]:
        """Claims of these sources another node may take over: released, or running with
        a lease that passed before ``now``; oldest slot first."""
        query = (
            select(CLAIMS)
            .where(
                CLAIMS.c.source.in_(list(sources)),
                or_(
                    CLAIMS.c.state == "released",
                    and_(CLAIMS.c.state == "running", CLAIMS.c.lease_until < now),
                ),
            )
            .order_by(CLAIMS.c.slot_at)
        )
        return self._read(lambda s: [_claim(row) for row in s.execute(query).mappings()])

    def take_over(
        self,
        claim: ClaimView,
        *,
        label: str,
        owner: RunOwner,
        lease_until: datetime,
        at: datetime,
    ) -> Takeover | None:
        """Take over a claim seen by :meth:`claimable` (None: it changed meanwhile, e.g.
        another node took it first). The previous run is recorded as interrupted (if it
        was still running) and superseded by the new run, started here. When the previous
        run had ended (its crawl recorded it, its node died before the claim), the claim is
        done with it: ``rerun`` is false and nothing is started."""
        why = (
            f"node {claim.node_id} gave the run back when it stopped"
            if claim.state == "released"
            else f"node {claim.node_id} lost its lease (ended {claim.lease_until:%H:%M:%S})"
        )
        lapsed = or_(
            CLAIMS.c.state == "released",
            and_(CLAIMS.c.state == "running", CLAIMS.c.lease_until < at),
        )
        values = {"node_id": owner.node_id, "token": claim.token + 1, "lease_until": lease_until}
        mine = ClaimView(
            **{**{name: getattr(claim, name) for name in ClaimView.__slots__}, **values}
        )

        def work(session: Session) -> Takeover | None:
            statement = update(CLAIMS).where(_held(claim), lapsed)
            if not session.execute(statement.values(state="running", **values)).rowcount:
                return None
            ended = _ended(session, claim.run_id)
            if ended and claim.state == "running":
                session.execute(
                    update(CLAIMS).where(_held(mine)).values(state="done", finished_at=at)
                )
                done = replace(mine, state="done", finished_at=at)
                return Takeover(done, claim.node_id, claim.run_id, rerun=False)
            run_id = _start_run(session, label, owner, at)
            session.execute(update(CLAIMS).where(_held(mine)).values(run_id=run_id))
            if claim.run_id is not None:
                old = RUNS.c.id == claim.run_id
                session.execute(
                    update(RUNS)
                    .where(old, RUNS.c.status == "running")
                    .values(status="interrupted", finished_at=at, error=why)
                )
                session.execute(update(RUNS).where(old).values(superseded_by=run_id))
            running = replace(mine, state="running", run_id=run_id)
            return Takeover(running, claim.node_id, claim.run_id)

        return self._write(work)

    def claims(
        self, *, source: str | None = None, since: datetime | None = None
    ) -> list[ClaimView]:
        """Claims, oldest slot first; optionally of one source, of slots since ``since``."""
        query = select(CLAIMS).order_by(CLAIMS.c.slot_at, CLAIMS.c.source)
        if source is not None:
            query = query.where(CLAIMS.c.source == source)
        if since is not None:
            query = query.where(CLAIMS.c.slot_at >= since)
        return self._read(lambda s: [_claim(row) for row in s.execute(query).mappings()])
