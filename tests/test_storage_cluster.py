"""The cluster aggregate on both backends, with the time given: a slot is claimed by one node
only, a lease is renewed by its holder only, a claim whose lease passed (or given back) is
taken over once, and the previous holder's outcome writes are refused (fencing)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from storage.cluster import ClaimView, NodeView, RunOwner
from storage.errors import RunSuperseded
from storage.repository import Repository

T0 = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
SLOT = T0
LEASE = timedelta(seconds=30)
A = RunOwner("a", pid=101, host="host-a")
B = RunOwner("b", pid=202, host="host-b")
C = RunOwner("c", pid=303, host="host-c")


def claim(
    repo: Repository, owner: RunOwner, at: datetime = T0, slot: datetime = SLOT
) -> ClaimView | None:
    return repo.cluster.claim(
        "kcna", slot, label="KCNA.kp (En)", owner=owner, lease_until=at + LEASE, at=at
    )


def test_a_slot_is_claimed_once_and_its_run_recorded_with_it(repo: Repository) -> None:
    first = claim(repo, A)
    assert first is not None and first.token == 1 and first.node_id == "a"
    assert claim(repo, B) is None
    assert claim(repo, A) is None  # a second fire on the same node too
    run = repo.runs.get(first.run_id or 0)
    assert run is not None and run.status == "running" and (run.pid, run.host) == (101, "host-a")
    assert claim(repo, B, slot=SLOT + timedelta(seconds=2)) is not None
    assert [c.node_id for c in repo.cluster.claims(source="kcna")] == ["a", "b"]


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_nodes_claiming_at_once_on_postgresql_get_one_claim(repo: Repository) -> None:
    owners = [RunOwner(f"n{i}", pid=i, host="h") for i in range(8)]
    with ThreadPoolExecutor(len(owners)) as pool:
        results = list(pool.map(lambda o: claim(repo, o), owners))
    assert sum(r is not None for r in results) == 1
    assert len(repo.runs.recent(limit=50)) == 1


def test_only_the_holder_renews_and_finishes(repo: Repository) -> None:
    held = claim(repo, A)
    assert held is not None
    assert repo.cluster.renew(held, lease_until=T0 + 2 * LEASE)
    forged = type(held)(**{**{n: getattr(held, n) for n in held.__slots__}, "token": 2})
    assert not repo.cluster.renew(forged, lease_until=T0 + 3 * LEASE)
    assert not repo.cluster.finish(forged, at=T0)
    assert repo.cluster.finish(held, at=T0 + timedelta(seconds=5))
    assert not repo.cluster.renew(held, lease_until=T0 + 3 * LEASE)  # done: nothing to renew
    [done] = repo.cluster.claims()
    assert done.state == "done" and done.lease_until == T0 + 2 * LEASE


def test_a_live_lease_is_not_taken_over(repo: Repository) -> None:
    held = claim(repo, A)
    assert held is not None
    assert repo.cluster.claimable(T0 + LEASE - timedelta(seconds=1), sources=["kcna"]) == []
    assert repo.cluster.renew(held, lease_until=T0 + 2 * LEASE)
    assert repo.cluster.claimable(T0 + LEASE + timedelta(seconds=1), sources=["kcna"]) == []
    assert repo.cluster.claimable(T0 + 3 * LEASE, sources=["kcnawatch"]) == []


def test_an_expired_lease_is_taken_over_once_and_the_old_holder_is_fenced(
    repo: Repository,
) -> None:
    held = claim(repo, A)
    assert held is not None and held.run_id is not None
    later = T0 + LEASE + timedelta(seconds=1)
    [expired] = repo.cluster.claimable(later, sources=["kcna"])
    kw = {"label": "KCNA.kp (En)", "lease_until": later + LEASE, "at": later}
    taken = repo.cluster.take_over(expired, owner=B, **kw)
    assert taken is not None
    assert (taken.previous_node, taken.previous_run) == ("a", held.run_id)
    assert taken.claim.token == 2 and taken.claim.node_id == "b"
    assert repo.cluster.take_over(expired, owner=C, **kw) is None  # seen by two: one wins
    assert repo.cluster.claimable(later, sources=["kcna"]) == []

    old = repo.runs.get(held.run_id)
    assert old is not None and old.status == "interrupted"
    assert old.superseded_by == taken.claim.run_id
    assert "node a lost its lease" in (old.error or "")
    # The old holder comes back: its lease, its claim and its run's outcome are refused.
    assert not repo.cluster.renew(held, lease_until=later + 2 * LEASE)
    assert not repo.cluster.finish(held, at=later)
    with pytest.raises(RunSuperseded, match=f"taken over by run {taken.claim.run_id}"):
        repo.runs.finish(
            held.run_id, finished_at=later, status="ok", pages=1, new=1, changed=0,
            unchanged=0, failures=0,
        )  # fmt: skip
    assert not repo.runs.close(held.run_id, finished_at=later, status="failed", error="x")
    repo.runs.update_counts(held.run_id, pages=9, new=9, changed=0, unchanged=0, failures=0)
    again = repo.runs.get(held.run_id)
    assert again is not None and (again.status, again.new) == ("interrupted", 0)
    assert repo.cluster.finish(taken.claim, at=later)


def test_a_released_claim_is_taken_over_at_once(repo: Repository) -> None:
    held = claim(repo, A)
    assert held is not None
    assert repo.cluster.release(held, at=T0 + timedelta(seconds=1))
    [given] = repo.cluster.claimable(T0 + timedelta(seconds=1), sources=["kcna"])
    assert given.state == "released"
    taken = repo.cluster.take_over(
        given, owner=B, label="KCNA.kp (En)", lease_until=T0 + LEASE, at=T0
    )
    assert taken is not None and taken.claim.state == "running"
    assert not repo.cluster.release(held, at=T0)


def test_nodes_check_in_and_are_forgotten_after_a_long_silence(repo: Repository) -> None:
    def node(node_id: str, at: datetime, digest: str = "h1") -> NodeView:
        return NodeView(node_id, "host", 1, "1.0", T0, at, None, None, digest)

    repo.cluster.check_in(node("a", T0))
    repo.cluster.check_in(node("b", T0))
    repo.cluster.check_in(node("a", T0 + timedelta(seconds=10), "h2"))
    assert [(n.node_id, n.config_hash) for n in repo.cluster.nodes()] == [("a", "h2"), ("b", "h1")]
    assert [n.node_id for n in repo.cluster.nodes(since=T0 + timedelta(seconds=5))] == ["a"]
    assert repo.cluster.forget_nodes(before=T0 + timedelta(seconds=5)) == 1
    assert [n.node_id for n in repo.cluster.nodes()] == ["a"]


def test_a_lapsed_claim_whose_run_had_ended_is_done_without_a_second_run(
    repo: Repository,
) -> None:
    held = claim(repo, A)
    assert held is not None and held.run_id is not None
    repo.runs.finish(
        held.run_id, finished_at=T0, status="ok", pages=1, new=1, changed=0, unchanged=0,
        failures=0,
    )  # fmt: skip
    later = T0 + LEASE + timedelta(seconds=1)
    [lapsed] = repo.cluster.claimable(later, sources=["kcna"])
    taken = repo.cluster.take_over(
        lapsed, owner=B, label="KCNA.kp (En)", lease_until=later + LEASE, at=later
    )
    assert taken is not None and not taken.rerun
    assert (taken.claim.state, taken.claim.run_id) == ("done", held.run_id)
    assert len(repo.runs.recent()) == 1
    run = repo.runs.get(held.run_id)
    assert run is not None and (run.status, run.superseded_by) == ("ok", None)
