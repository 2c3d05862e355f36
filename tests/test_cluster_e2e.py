"""End to end: several real daemon processes (nodes) on one PostgreSQL archive act as one
monitor, against the rebuilt site on 127.0.0.1, with a three-second lease.

- Three nodes, both sources every 2 s for a minute while the site publishes: each slot of
  each source runs once, each article is stored once (KCNA Watch carries copies of kcna.kp's),
  each watch notification is delivered once.
- A node killed with SIGKILL in the middle of a crawl: a peer takes the run over within the
  lease, the dead node's run is recorded as interrupted.
- A node frozen with SIGSTOP past its lease, then resumed: its outcome is refused.
- The PostgreSQL server restarted (a private one): the nodes go on by themselves.
- Every node restarted in turn (SIGTERM, start): no slot is missed.

Each crawl starts a Python process of its own, 4 to 14 s on two busy cores with three nodes
crawling, so at 2 s all three nodes are sometimes crawling a source when its slot comes due;
the first node free runs it, but if the next slot has come due by then, it is skipped, as a
lone daemon skips a run due while the previous one still goes (a node runs one crawl of a
source at a time): the check allows a slot nobody claimed only when the archive shows every
node up then busy with that source. The rolling restart runs every 4 s, so that a missed
slot could only be the handover's. The tests wait on the nodes' logs and the archive with
deadlines, never sleep for timing.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from replica.server import FixtureServer
from replica.site import BuiltSite, build_site
from scheduler.demo import ArchiveIds
from tests.cluster_helpers import (
    LEASE,
    TAKEOVER_WITHIN,
    Nodes,
    PrivatePostgres,
    Slowdown,
    archive,
    assert_articles_stored_once,
    assert_each_slot_ran_once,
    claims,
    cluster_config,
    runs,
    wait_until,
)
from tests.monitor_helpers import webhook_receiver
from tests.storage_helpers import pg_schema_url
from tests.test_daemon_e2e import command

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

EVERY = timedelta(seconds=2)
BUSY = 60.0  # seconds of publishing while three nodes run
BOTH = ("kcna", "kcnawatch")
OK_LINE = r"kcna run \d+: ok in "


def watch_all(url: str) -> str:
    """A watch rule on every article, told to the webhook at ``url``."""
    return (
        f'[[watch]]\nname = "all"\nmatch = "."\nsources = ["kcna", "kcnawatch"]\n'
        f'notify = ["webhook:{url}"]\nmax_age = false\n'
    )


def all_delivered(db_url: str) -> bool:
    """Every match's notification delivered, none waiting."""
    with archive(db_url) as repo:
        counts = repo.outbox.counts()
        matched = len(repo.outbox.matches(limit=1000))
    return counts["pending"] == 0 and counts["delivered"] == matched > 0


@pytest.fixture
def built() -> BuiltSite:
    return build_site(hold_back=8)


@pytest.fixture
def server(built: BuiltSite) -> Iterator[FixtureServer]:
    with FixtureServer(built.site) as serving:
        yield serving


@pytest.fixture
def db_url() -> Iterator[str]:
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def slow(built: BuiltSite) -> Iterator[Slowdown]:
    slowdown = Slowdown(built.site, built.start_paths_of("kcna"))
    yield slowdown
    slowdown.release()


@pytest.fixture
def make_nodes() -> Iterator[list[Nodes]]:
    made: list[Nodes] = []
    yield made
    for nodes in made:
        nodes.kill_all()


def test_three_nodes_run_each_slot_once_and_notify_once(
    built: BuiltSite, server: FixtureServer, db_url: str, tmp_path: Path, make_nodes: list[Nodes]
) -> None:
    with webhook_receiver() as receiver:
        receiver.start()
        watch = watch_all(receiver.url)
        config = cluster_config(
            tmp_path, db_url, server, built, every="2s", extra=watch, sources=BOTH, timeout="60s"
        )
        nodes = Nodes(config, tmp_path)
        make_nodes.append(nodes)
        for _ in range(3):
            nodes.start()
        published = []
        deadline = time.monotonic() + BUSY
        while time.monotonic() < deadline:
            article = built.publish_next()
            if article is not None:
                published.append(article)
            nodes.pump(6.0)  # an article every 6 s
        assert len(published) == 8
        ids = ArchiveIds(db_url)
        try:
            stored = lambda: all(ids(article) for article in published)  # noqa: E731
            wait_until("every published article stored", stored, nodes, timeout=60)
        finally:
            ids.close()

        delivered = lambda: all_delivered(db_url)  # noqa: E731
        wait_until("every notification delivered", delivered, nodes, timeout=60)
        status = command(tmp_path, "status", "--json", "--config", str(config))
        assert status.returncode == 0, status.stderr
        listed = json.loads(status.stdout)["nodes"]
        assert sorted(n["pid"] for n in listed if n["alive"]) == sorted(
            node.process.pid for node in nodes.started
        )
        assert not any(n["config_differs"] for n in listed)
        assert nodes.stop_all() == [0, 0, 0]
        posts = Counter((p["json"]["rule"], p["json"]["article_id"]) for p in receiver.received)

    for source in BOTH:
        found = assert_each_slot_ran_once(db_url, EVERY, source=source)
        # Slots that came due while the nodes stopped are given back or never claimed.
        assert len(found) >= BUSY / EVERY.total_seconds() / 2, source
        assert len({claim.node_id for claim in found}) >= 2, f"one node ran every {source} slot"
    assert_articles_stored_once(db_url, built, published)
    with archive(db_url) as repo:
        matched = {(m.rule, m.article_id) for m in repo.outbox.matches(limit=1000)}
    assert set(posts) == matched and set(posts.values()) == {1}, posts


def test_a_killed_node_s_run_is_taken_over_within_the_lease(
    built: BuiltSite,
    server: FixtureServer,
    db_url: str,
    tmp_path: Path,
    make_nodes: list[Nodes],
    slow: Slowdown,
) -> None:
    config = cluster_config(tmp_path, db_url, server, built, every="1h")
    nodes = Nodes(config, tmp_path)
    make_nodes.append(nodes)
    slow.hold()
    for _ in range(3):
        nodes.start()
    wait_until("a crawl is under way", slow.reached.is_set, nodes, timeout=60)
    [claim] = claims(db_url)
    owner = nodes.by_pid(int(claim.node_id.split(":")[1]))
    owner.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    owner.process.wait()
    slow.release()
    peers = nodes.live()

    def taken_over() -> bool:
        return any("took over the run due at" in line for n in peers for line in n.lines)

    wait_until("a peer took the run over", taken_over, nodes, timeout=TAKEOVER_WITHIN)
    took = time.monotonic() - killed_at
    assert took <= TAKEOVER_WITHIN

    def settled() -> bool:
        return claims(db_url)[0].state == "done"

    wait_until("the taken-over run ended", settled, nodes, timeout=60)
    assert nodes.stop_all() == [0, 0]
    [final] = claims(db_url)
    assert final.token == 2 and final.node_id != claim.node_id
    recorded = runs(db_url)
    dead = recorded[claim.run_id or 0]
    assert dead.status == "interrupted" and dead.superseded_by == final.run_id
    assert recorded[final.run_id or 0].status == "ok"
    assert len(recorded) == 2, recorded  # run once more, not twice
    assert_articles_stored_once(db_url, built, [])
    print(f"taken over {took:.1f}s after the kill (lease {LEASE.total_seconds():.0f}s)")


def test_a_node_resumed_after_its_lease_passed_does_not_overwrite_the_new_owner(
    built: BuiltSite,
    server: FixtureServer,
    db_url: str,
    tmp_path: Path,
    make_nodes: list[Nodes],
    slow: Slowdown,
) -> None:
    config = cluster_config(tmp_path, db_url, server, built, every="1h")
    nodes = Nodes(config, tmp_path)
    make_nodes.append(nodes)
    slow.hold()
    for _ in range(2):
        nodes.start()
    wait_until("a crawl is under way", slow.reached.is_set, nodes, timeout=60)
    [claim] = claims(db_url)
    frozen = nodes.by_pid(int(claim.node_id.split(":")[1]))
    frozen.process.send_signal(signal.SIGSTOP)
    [peer] = [node for node in nodes.started if node is not frozen]
    peer.wait_for("took over the run due at", timeout=TAKEOVER_WITHIN + 5)
    slow.release()  # both crawls go on: the frozen node's child too
    peer.wait_for(OK_LINE, timeout=60)
    [taken] = claims(db_url)
    assert taken.state == "done" and taken.token == 2 and taken.node_id != claim.node_id

    frozen.process.send_signal(signal.SIGCONT)
    frozen.wait_for(r"outcome not recorded: another node took the run due at", timeout=30)
    assert nodes.stop_all() == [0, 0]
    [final] = claims(db_url)
    assert final == taken  # the resumed node changed nothing
    recorded = runs(db_url)
    assert recorded[taken.run_id or 0].status == "ok"
    stale = recorded[claim.run_id or 0]
    assert stale.status == "interrupted" and stale.superseded_by == taken.run_id


def test_nodes_recover_from_a_postgresql_restart_by_themselves(
    built: BuiltSite, server: FixtureServer, tmp_path: Path, make_nodes: list[Nodes]
) -> None:
    postgres = PrivatePostgres()
    postgres.start()
    try:
        with webhook_receiver() as receiver:
            receiver.start()
            home = tmp_path / "home"
            home.mkdir()
            config = cluster_config(
                home, postgres.url, server, built, every="2s", extra=watch_all(receiver.url)
            )
            nodes = Nodes(config, home)
            make_nodes.append(nodes)
            for _ in range(2):
                nodes.start()
            wait_until("a few slots ran", lambda: len(claims(postgres.url)) >= 3, nodes, 60)
            built.publish_next()  # its notification may go out around the restart
            postgres.stop()
            nodes.pump(4.0)  # runs come due while the database is away
            postgres.start()
            restarted = len(claims(postgres.url))

            def going_on() -> bool:
                done = [c for c in claims(postgres.url)[restarted:] if c.state == "done"]
                return len(done) >= 3 and all_delivered(postgres.url)

            wait_until("slots run again after the restart", going_on, nodes, timeout=90)
            assert all(node.process.poll() is None for node in nodes.started)
            assert nodes.stop_all() == [0, 0]
            posts = Counter((p["json"]["rule"], p["json"]["article_id"]) for p in receiver.received)
        assert len(posts) >= 25 and set(posts.values()) == {1}, posts
        found, recorded = claims(postgres.url), runs(postgres.url)
        counted = {c.run_id for c in found}
        assert len(counted) == len(found)  # no run counts for two slots
        for run in recorded.values():  # a run of no slot was taken over, never ok
            assert run.id in counted or (run.status != "ok" and run.superseded_by), run
        after = [c for c in found[restarted:] if c.state == "done"]
        assert all(recorded[c.run_id or 0].status == "ok" for c in after), after
    finally:
        postgres.close()


def test_a_rolling_restart_misses_no_slot(
    built: BuiltSite, server: FixtureServer, db_url: str, tmp_path: Path, make_nodes: list[Nodes]
) -> None:
    every = timedelta(seconds=4)
    config = cluster_config(tmp_path, db_url, server, built, every="4s")
    nodes = Nodes(config, tmp_path)
    make_nodes.append(nodes)
    first = [nodes.start() for _ in range(3)]
    nodes.pump(4.0)
    for node in first:
        assert node.stop() == 0
        nodes.start()
        nodes.pump(2.0)
    nodes.pump(4.0)
    assert nodes.stop_all() == [0, 0, 0]
    found = assert_each_slot_ran_once(db_url, every)
    assert len(found) >= 6
    assert len({claim.node_id for claim in found}) >= 4  # the restarted nodes ran some too
