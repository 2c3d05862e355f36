"""Source health: alarms when a source goes quiet or its layout seems to have changed.

Three alarms per source, each raised once and cleared when the condition goes away:

- ``quiet``: no new article seen on the source's site for longer than ``quiet_after``
  (default one day; counted from the first run when nothing was ever stored);
- ``empty-listings``: every listing page the latest run parsed had no entries, while an
  earlier run of the source found entries on its listings (a run that parsed no listing,
  e.g. because every listing answered "not modified", tells nothing and changes nothing);
- ``parse-failures``: more than ``parse_failure_share`` (default 0.5) of the pages the
  latest run parsed failed to parse, among at least ``min_pages`` (default 5) pages.

The last two read the per-run counters of ``run_stats``; a run without them is not judged.
An alarm is logged, listed by :func:`active_alarms`, and sent to the ``[health] notify``
targets (raised and cleared) through the notification outbox.

Configuration (all optional)::

    [health]
    quiet_after = "1d"              # or false
    parse_failure_share = 0.5
    min_pages = 5
    empty_listings = true
    notify = ["webhook:https://example.org/ops"]

    [health.sources.kcnawatch]
    quiet_after = "2d"
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from scheduler.configcheck import (
    WatchConfigError,
    boolean,
    check_keys,
    duration,
    format_duration,
    show,
    whole,
)
from scheduler.monitor.notify.payloads import AlarmPayload
from scheduler.monitor.notify.settings import parse_targets
from scheduler.monitor.watch import source_hosts
from storage.alarms import Alarms
from storage.outbox import Outbox
from storage.records import AlarmView, RunStats, RunView, utc_iso
from storage.repository import Repository

logger = logging.getLogger("health")

QUIET = "quiet"
EMPTY_LISTINGS = "empty-listings"
PARSE_FAILURES = "parse-failures"

HEALTH_KEYS = (
    "empty_listings",
    "min_pages",
    "notify",
    "parse_failure_share",
    "quiet_after",
    "sources",
)
SOURCE_KEYS = ("empty_listings", "min_pages", "parse_failure_share", "quiet_after")
DEFAULT_QUIET_AFTER = timedelta(days=1)
#: Runs of a source looked at for the layout alarms.
HISTORY_RUNS = 20


@dataclass(frozen=True)
class SourceHealth:
    quiet_after: timedelta | None = DEFAULT_QUIET_AFTER  # None: never quiet
    parse_failure_share: float = 0.5
    min_pages: int = 5
    empty_listings: bool = True


@dataclass(frozen=True)
class HealthConfig:
    default: SourceHealth = field(default_factory=SourceHealth)
    sources: dict[str, SourceHealth] = field(default_factory=dict)
    notify: tuple[str, ...] = ()

    def of(self, source: str) -> SourceHealth:
        return self.sources.get(source, self.default)


def _source_values(table: dict[str, Any], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "quiet_after" in table:
        raw = table["quiet_after"]
        values["quiet_after"] = None if raw is False else duration(raw, f"{where}.quiet_after")
    if "parse_failure_share" in table:
        share = table["parse_failure_share"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise WatchConfigError(
                f"{where}.parse_failure_share: expected a number above 0 and at most 1"
                f" (e.g. 0.5), got {show(share)}"
            )
        values["parse_failure_share"] = float(share)
    if "min_pages" in table:
        values["min_pages"] = whole(table["min_pages"], f"{where}.min_pages")
    if "empty_listings" in table:
        values["empty_listings"] = boolean(table["empty_listings"], f"{where}.empty_listings")
    return values


def parse_health(raw: Any, *, smtp: bool = False) -> HealthConfig:
    """The ``[health]`` table (defaults when absent). Raises :class:`WatchConfigError`."""
    from scheduler.crawl.options import SPIDERS

    if raw is None:
        return HealthConfig()
    if not isinstance(raw, dict):
        raise WatchConfigError(f"health: expected a table ([health]), got {show(raw)}")
    check_keys(raw, "health", HEALTH_KEYS)
    default = replace(SourceHealth(), **_source_values(raw, "health"))
    sources: dict[str, SourceHealth] = {}
    tables = raw.get("sources", {})
    if not isinstance(tables, dict):
        raise WatchConfigError(f"health.sources: expected tables, got {show(tables)}")
    for name, table in tables.items():
        where = f"health.sources.{name}"
        if name not in SPIDERS:
            raise WatchConfigError(f"{where}: unknown source (known: {', '.join(sorted(SPIDERS))})")
        if not isinstance(table, dict):
            raise WatchConfigError(f"{where}: expected a table ([{where}])")
        check_keys(table, where, SOURCE_KEYS)
        sources[name] = replace(default, **_source_values(table, where))
    notify = parse_targets(raw.get("notify", []), "health.notify", smtp=smtp)
    return HealthConfig(default=default, sources=sources, notify=notify)


# -- checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """The verdict of one check: ``None`` in ``alarm`` means "no information, keep the
    alarm as it is"; a message raises (or keeps) the alarm; an empty one clears it."""

    kind: str
    alarm: str | None


def quiet_finding(
    config: SourceHealth, last_new: datetime | None, first_run: datetime | None, now: datetime
) -> Finding:
    if config.quiet_after is None:
        return Finding(QUIET, "")
    since = last_new or first_run
    if since is None:
        return Finding(QUIET, None)  # never crawled: nothing to say yet
    silent = now - since
    if silent <= config.quiet_after:
        return Finding(QUIET, "")
    what = f"last one {utc_iso(last_new)}" if last_new else "none ever stored"
    return Finding(
        QUIET,
        f"no new article for {format_duration(_whole_minutes(silent))}"
        f" (expected within {format_duration(config.quiet_after)}; {what})",
    )


def _whole_minutes(value: timedelta) -> timedelta:
    return timedelta(minutes=int(value.total_seconds() // 60))


def layout_findings(
    config: SourceHealth, runs: Sequence[RunView], stats: dict[int, RunStats]
) -> list[Finding]:
    """The layout checks on the latest finished runs (newest first) and their counters."""
    judged = [(run, stats[run.id]) for run in runs if run.finished_at and run.id in stats]
    findings: list[Finding] = []
    listed = [(run, s) for run, s in judged if s.listing_pages > 0]
    if not config.empty_listings:
        findings.append(Finding(EMPTY_LISTINGS, ""))
    elif listed:
        run, latest = listed[0]
        had_entries = any(s.listing_pages > s.empty_listings for _, s in listed[1:])
        if latest.empty_listings == latest.listing_pages and had_entries:
            pages = "page" if latest.listing_pages == 1 else "pages"
            findings.append(
                Finding(
                    EMPTY_LISTINGS,
                    f"run {run.id}: all {latest.listing_pages} listing {pages} parsed to no"
                    " entries, though earlier runs found entries (has the layout changed?)",
                )
            )
        elif latest.empty_listings < latest.listing_pages:
            findings.append(Finding(EMPTY_LISTINGS, ""))
    parsed = [(run, s) for run, s in judged if s.pages_parsed >= config.min_pages]
    if parsed:
        run, latest = parsed[0]
        share = latest.parse_failures / latest.pages_parsed
        if share > config.parse_failure_share:
            findings.append(
                Finding(
                    PARSE_FAILURES,
                    f"run {run.id}: {latest.parse_failures} of {latest.pages_parsed} pages"
                    f" ({share:.0%}) failed to parse, above {config.parse_failure_share:.0%}"
                    " (has the layout changed?)",
                )
            )
        else:
            findings.append(Finding(PARSE_FAILURES, ""))
    return findings


@dataclass(frozen=True)
class AlarmChange:
    alarm: AlarmView
    raised: bool  # False: cleared


def alarm_payload(alarm: AlarmView, raised: bool) -> AlarmPayload:
    return AlarmPayload(
        raised=raised,
        source=alarm.source,
        alarm=alarm.kind,
        message=alarm.message,
        since=alarm.since,
        cleared_at=alarm.cleared_at,
    )


def check_health(
    repo: Repository,
    config: HealthConfig,
    sources: Sequence[str],
    now: datetime,
) -> list[AlarmChange]:
    """Run every check on each source; raise and clear alarms, log and queue notifications
    of the changes, and return them."""
    hosts = source_hosts()
    changes: list[AlarmChange] = []
    for source in sources:
        settings = config.of(source)
        prefixes = [f"{s}://{h}/" for h in sorted(hosts.get(source, ())) for s in ("http", "https")]
        stored = (
            repo.articles.last_url_first_seen(prefixes),
            repo.runs.last_new_article_at(source),
        )
        last_new = max((t for t in stored if t is not None), default=None)
        findings = [quiet_finding(settings, last_new, repo.runs.first_run_at(source), now)]
        runs = [r for r in repo.runs.recent(limit=HISTORY_RUNS, source=source) if r.finished_at]
        findings += layout_findings(settings, runs, repo.runs.stats([r.id for r in runs]))
        for finding in findings:
            change = _apply(repo.alarms, source, finding, now)
            if change is not None:
                changes.append(change)
                _announce(repo.outbox, config, change, now)
    return changes


def _apply(alarms: Alarms, source: str, finding: Finding, now: datetime) -> AlarmChange | None:
    if finding.alarm is None:
        return None
    if finding.alarm:
        raised = alarms.raise_alarm(source, finding.kind, finding.alarm, now)
        return AlarmChange(raised, True) if raised is not None else None
    cleared = alarms.clear(source, finding.kind, now)
    return AlarmChange(cleared, False) if cleared is not None else None


def _announce(outbox: Outbox, config: HealthConfig, change: AlarmChange, now: datetime) -> None:
    alarm = change.alarm
    if change.raised:
        logger.warning("%s: %s alarm: %s", alarm.source, alarm.kind, alarm.message)
    else:
        lasted = format_duration(_whole_minutes(now - alarm.since))
        logger.info("%s: %s alarm cleared after %s", alarm.source, alarm.kind, lasted)
    targets = [t for t in config.notify if t != "log"]  # logged above already
    if targets:
        outbox.enqueue(
            rule="health",
            event="alarm" if change.raised else "cleared",
            targets=targets,
            payload=alarm_payload(alarm, change.raised).to_json(),
            at=now,
            alarm_id=alarm.id,
        )


def alarms_json(alarms: Sequence[AlarmView]) -> list[dict[str, Any]]:
    """Active alarms for ``status --json`` and ``/healthz``."""
    return [
        {"source": a.source, "alarm": a.kind, "since": utc_iso(a.since), "message": a.message}
        for a in alarms
    ]
