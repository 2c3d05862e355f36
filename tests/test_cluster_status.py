"""``status`` lists the nodes sharing an archive: live ones (checked in within a lease, not
stopped) first, what each runs, and the ones whose configuration differs from the others'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.config import default_config
from scheduler.daemon.status import node_lines, nodes_report, status_report, status_text
from storage.cluster import NodeView
from storage.repository import Repository
from tests.web_helpers import context, serving

NOW = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def check_in(repo: Repository, node_id: str, pid: int, digest: str, **changes: object) -> None:
    values = {
        "node_id": node_id,
        "host": f"host-{node_id}",
        "pid": pid,
        "version": "0.1.0",
        "started_at": NOW - timedelta(hours=1),
        "checked_in_at": NOW - timedelta(seconds=5),
        "stopped_at": None,
        "running": None,
        "config_hash": digest,
        **changes,
    }
    repo.cluster.check_in(NodeView(**values))  # type: ignore[arg-type]


def test_nodes_are_listed_and_a_differing_config_is_flagged(repo: Repository) -> None:
    check_in(repo, "a", 11, "h1", running="kcna run 12")
    check_in(repo, "b", 22, "h1")
    check_in(repo, "c", 33, "h2")
    check_in(repo, "d", 44, "h2", checked_in_at=NOW - timedelta(minutes=5))  # silent
    check_in(repo, "e", 55, "h3", stopped_at=NOW - timedelta(seconds=1))
    nodes = nodes_report(repo, NOW, LEASE)
    by_id = {node["node"]: node for node in nodes}
    assert [n for n, node in by_id.items() if node["alive"]] == ["a", "b", "c"]
    assert by_id["a"]["running"] == ["kcna run 12"] and by_id["b"]["running"] == []
    assert [n for n, node in by_id.items() if node["config_differs"]] == ["c"]
    text = "\n".join(node_lines(nodes, NOW))
    assert text.startswith("nodes      3 running — configs differ!")
    assert "host-a pid 11 (a) running" in text and "kcna run 12; config h1\n" in text
    assert "config h2 (differs)" in text
    assert "host-d pid 44 (d) silent" in text and "host-e pid 55 (e) stopped" in text


def test_alike_nodes_are_not_flagged_and_no_nodes_say_nothing(repo: Repository) -> None:
    assert node_lines(nodes_report(repo, NOW, LEASE), NOW) == []
    check_in(repo, "a", 11, "h1")
    check_in(repo, "b", 22, "h1")
    assert node_lines(nodes_report(repo, NOW, LEASE), NOW)[0] == "nodes      2 running"


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_on_postgresql_the_daemon_runs_while_a_node_is_alive(repo: Repository, db_url: str) -> None:
    config = default_config()
    now = datetime.now(UTC)
    assert status_report(config, db_url, repo, now)["daemon"]["running"] is False
    check_in(repo, "a", 11, "h1", checked_in_at=now)
    report = status_report(config, db_url, repo, now)
    assert report["daemon"] == {"running": True, "pid": 11, "host": "host-a"}
    assert "nodes      1 running" in status_text(report, now)


def test_the_sources_page_lists_the_nodes_and_flags_a_differing_config(
    repo: Repository,
) -> None:
    check_in(repo, "a", 11, "h1aaaaaaaaaaaaaaaa", running="kcna run 12")
    check_in(repo, "b", 22, "h1aaaaaaaaaaaaaaaa")
    check_in(repo, "c", 33, "h2<b>bbbbbbbbbbbbbb")
    with serving(context(repo, clock=lambda: NOW)) as client:
        page = client.get("/sources").text
    nodes = page[page.index("<h2>Nodes</h2>") :]
    assert nodes.count('<tr class="node">') == 3
    assert "host-a <span" in nodes and "kcna run 12" in nodes
    assert "Their configurations differ." in nodes
    assert nodes.count("differs</span>") == 1 and "h2&lt;b&gt;" in nodes


def test_metrics_tell_each_node_up_and_whether_its_config_differs(repo: Repository) -> None:
    check_in(repo, "a", 11, "h1")
    check_in(repo, "b", 22, "h2")
    check_in(repo, "c", 33, "h2", checked_in_at=NOW - timedelta(minutes=5))  # silent
    with serving(context(repo, clock=lambda: NOW)) as client:
        text = client.get("/metrics").text
    assert 'kcna_monitor_node_up{host="host-a",node="a",pid="11"} 1.0' in text
    assert 'kcna_monitor_node_up{host="host-c",node="c",pid="33"} 0.0' in text
    differs = [line for line in text.splitlines() if line.startswith("kcna_monitor_node_config")]
    assert sum(line.endswith(" 1.0") for line in differs) == 1
