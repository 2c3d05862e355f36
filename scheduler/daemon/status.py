"""The status report: what the daemon did and will do, per source, read from the archive.

:func:`status_report` builds it as plain data (what ``status --json`` prints);
:func:`status_text` words it for a terminal. Both work while the daemon runs.
:func:`nodes_report` is its list of the daemons (nodes) sharing a PostgreSQL archive, with
those whose configuration differs from the others' flagged: plain data for any page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.sources import SOURCES
from scheduler.config import Config
from scheduler.configtypes import format_duration
from scheduler.monitor.health import alarms_json
from storage.cluster import NodeView
from storage.db import display_url
from storage.locks import DatabaseLock
from storage.records import RunView, SourceState
from storage.repository import Repository


def status_report(config: Config, db_url: str, repo: Repository, now: datetime) -> dict[str, Any]:
    """The daemon's state, each source's last run, next run, last error and pause, the
    articles stored and the active alarms."""
    states = repo.runs.source_states()
    holder = max(
        (s for s in states.values() if s.pid is not None),
        key=lambda s: s.updated_at,
        default=None,
    )
    nodes = nodes_report(repo, now, config.cluster.lease)
    if repo.engine.dialect.name == "postgresql":  # peers: the nodes checked in
        live = [node for node in nodes if node["alive"]]
        running = bool(live)
        pid, host = (live[0]["pid"], live[0]["host"]) if live else (None, None)
    else:
        running = DatabaseLock(db_url).is_held_elsewhere()
        pid = holder.pid if running and holder else None
        host = holder.host if running and holder else None
    return {
        "database": display_url(db_url),
        "daemon": {"running": running, "pid": pid, "host": host},
        "nodes": nodes,
        "sources": {
            name: _source_report(repo, name, source, states.get(name), running, now)
            for name, source in config.sources.items()
        },
        "articles": {
            "total": repo.articles.count(),
            "last_24h": repo.articles.count(first_seen_since=now - timedelta(hours=24)),
        },
        "alarms": alarms_json(repo.alarms.active()),
    }


def _source_report(
    repo: Repository,
    name: str,
    source: Any,
    state: SourceState | None,
    running: bool,
    now: datetime,
) -> dict[str, Any]:
    label = SOURCES[name].label
    last = next(iter(repo.runs.recent(limit=1, source=label)), None)
    # While the daemon runs, what it runs by (its configuration may not be this one).
    schedule = state.schedule if running and state and state.schedule else None
    enabled = source.enabled if schedule is None else schedule != "disabled"
    return {
        "enabled": enabled,
        "schedule": schedule or source.describe_schedule(),
        "last_run": _run_json(last),
        "running_run_id": state.current_run_id if running and state else None,
        "next_run": _iso(state.next_run_at) if running and state else None,
        "last_error": _last_error(repo, label, state),
        "failures_in_row": state.failures_in_row if state else 0,
        "paused_until": _iso(state.paused_until)
        if state and state.paused_until and state.paused_until > now
        else None,
        "sweep": sweep_report(repo, name, source.sweep_period, now),
    }


def nodes_report(repo: Repository, now: datetime, lease: timedelta) -> list[dict[str, Any]]:
    """The nodes that checked in within the last day, oldest first: ``alive`` when one did
    within ``lease`` and has not stopped; ``config_differs`` when a live node's config hash
    is not the one most live nodes have."""
    nodes = repo.cluster.nodes(since=now - timedelta(days=1))
    alive = {n.node_id for n in nodes if n.stopped_at is None and n.checked_in_at >= now - lease}
    hashes = [n.config_hash for n in nodes if n.node_id in alive]
    usual = max(sorted(set(hashes)), key=hashes.count, default=None)
    return [_node_json(n, n.node_id in alive, usual) for n in nodes]


def _node_json(node: NodeView, alive: bool, usual: str | None) -> dict[str, Any]:
    return {
        "node": node.node_id,
        "host": node.host,
        "pid": node.pid,
        "version": node.version,
        "started_at": _iso(node.started_at),
        "checked_in_at": _iso(node.checked_in_at),
        "stopped_at": _iso(node.stopped_at),
        "alive": alive,
        "running": node.running.split(", ") if node.running else [],
        "config_hash": node.config_hash,
        "config_differs": alive and node.config_hash != usual,
    }


def node_lines(nodes: list[dict[str, Any]], now: datetime) -> list[str]:
    """The nodes, one line each, live ones first (none when no node ever checked in)."""
    live = [n for n in nodes if n["alive"]]
    if not nodes:
        return []
    differ = " — configs differ!" if any(n["config_differs"] for n in nodes) else ""
    lines = [f"nodes      {len(live)} running{differ}"]
    for node in sorted(nodes, key=lambda n: not n["alive"]):
        state = "running" if node["alive"] else ("stopped" if node["stopped_at"] else "silent")
        doing = ", ".join(node["running"]) or "idle"
        mark = " (differs)" if node["config_differs"] else ""
        lines.append(
            f"  {node['host']} pid {node['pid']} ({node['node']}) {state}, version"
            f" {node['version']}, started {_ago(node['started_at'], now)}, checked in"
            f" {_ago(node['checked_in_at'], now)}; {doing if node['alive'] else '-'};"
            f" config {node['config_hash']}{mark}"
        )
    return lines


def sweep_report(
    repo: Repository, name: str, every: timedelta | None, now: datetime
) -> dict[str, Any] | None:
    """How far the source's archive sweep got in the current period (None when off)."""
    if every is None:
        return None
    progress = repo.crawl_state.sweep_progress(SOURCES[name].site_prefixes(), since=now - every)
    return {
        "every": format_duration(every),
        "articles": progress.articles,
        "checked": progress.checked,
        "share": round(progress.share, 4),
        "never_checked": progress.never,
        "oldest_check": _iso(progress.oldest),
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _run_json(run: RunView | None) -> dict | None:
    if run is None:
        return None
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "id": run.id,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "seconds": round(seconds, 1) if seconds is not None else None,
        "status": run.status,
        "pages": run.pages,
        "new": run.new,
        "changed": run.changed,
        "unchanged": run.unchanged,
        "failed": run.failures,
        "error": run.error,
    }


def _last_error(repo: Repository, label: str, state: SourceState | None) -> dict | None:
    """The latest of: the last failed run's error, the daemon's last error for the source."""
    candidates = []
    failed = next(iter(repo.runs.recent(limit=1, source=label, status="failed")), None)
    if failed is not None:
        at = failed.finished_at or failed.started_at
        candidates.append((at, failed.error or "failed"))
    if state is not None and state.last_error and state.last_error_at is not None:
        candidates.append((state.last_error_at, state.last_error))
    if not candidates:
        return None
    at, message = max(candidates, key=lambda c: c[0])
    return {"at": _iso(at), "message": message}


def _ago(iso: str | None, now: datetime) -> str:
    if iso is None:
        return "-"
    moment = datetime.fromisoformat(iso)
    seconds = int((moment - now).total_seconds())
    shown = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if abs(seconds) < 2:
        return f"{shown} (now)"
    span = format_duration(timedelta(seconds=abs(seconds)))
    return f"{shown} ({'in ' + span if seconds > 0 else span + ' ago'})"


def status_text(report: dict[str, Any], now: datetime) -> str:
    """The report worded for a terminal."""
    daemon = report["daemon"]
    lines = [f"database   {report['database']}"]
    if daemon["running"]:
        who = f" (pid {daemon['pid']} on {daemon['host']})" if daemon["pid"] else ""
        lines.append(f"daemon     running{who}")
    else:
        lines.append("daemon     not running")
    lines += node_lines(report.get("nodes", []), now)
    for name, info in report["sources"].items():
        schedule = info["schedule"] if info["enabled"] else "disabled"
        lines.append(f"{name:<10} {schedule}")
        run = info["last_run"]
        if run is None:
            lines.append("  last run    never")
        else:
            took = f" in {run['seconds']:.1f}s" if run["seconds"] is not None else ""
            lines.append(
                f"  last run    {_ago(run['started_at'], now)}: {run['status']}{took} —"
                f" pages {run['pages']}, new {run['new']}, changed {run['changed']},"
                f" unchanged {run['unchanged']}, failed {run['failed']}"
            )
        if info["running_run_id"] is not None:
            lines.append(f"  next run    running now (run {info['running_run_id']})")
        elif info["next_run"] is not None:
            lines.append(f"  next run    {_ago(info['next_run'], now)}")
        else:
            lines.append(
                "  next run    -" + ("" if daemon["running"] else " (the daemon is not running)")
            )
        error = info["last_error"]
        lines.append(
            f"  last error  {_ago(error['at'], now)}: {error['message']}"
            if error
            else "  last error  none"
        )
        lines += _sweep_lines(info["sweep"], now)
        if info["paused_until"]:
            lines.append(
                f"  paused      until {_ago(info['paused_until'], now)},"
                f" after {info['failures_in_row']} failed runs in a row"
            )
    articles = report["articles"]
    lines.append(
        f"articles   {articles['total']} stored, {articles['last_24h']} new in the last 24 hours"
    )
    return "\n".join([*lines, *alarm_lines(report["alarms"])]) + "\n"


def _sweep_lines(sweep: dict[str, Any] | None, now: datetime) -> list[str]:
    if sweep is None:
        return ["  sweep       off"]
    never = f", {sweep['never_checked']} never checked" if sweep["never_checked"] else ""
    oldest = sweep["oldest_check"]
    return [
        f"  sweep       every {sweep['every']}: {sweep['share']:.0%} of {sweep['articles']}"
        f" articles checked in this period{never}; oldest check"
        f" {_ago(oldest, now) if oldest else 'none yet'}"
    ]


def alarm_lines(alarms: list[dict[str, Any]]) -> list[str]:
    """Active alarms (as in the report), one line each (``alarms     none`` when none)."""
    if not alarms:
        return ["alarms     none"]
    return [
        f"alarm      {a['source']} {a['alarm']} since"
        f" {datetime.fromisoformat(a['since']).strftime('%Y-%m-%d %H:%M UTC')}: {a['message']}"
        for a in alarms
    ]
