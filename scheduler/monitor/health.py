"""Source health: alarms when a source goes quiet, its layout seems to have changed, or a run
finds many articles changed at once.

Four alarms per source, each raised once and cleared when the condition goes away:

- ``quiet``: no new article seen on the source's site for longer than ``quiet_after``
  (default one day; counted from the first run when nothing was ever stored);
- ``empty-listings``: every listing page the latest run parsed had no entries, while an
  earlier run of the source found entries on its listings (a run that parsed no listing,
  e.g. because every listing answered "not modified", tells nothing and changes nothing);
- ``parse-failures``: more than ``parse_failure_share`` (default 0.5) of the pages the
  latest run parsed failed to parse, among at least ``min_pages`` (default 5) pages;
- ``mass-changes``: the latest run found more than ``mass_changes`` (default 50) articles
  gone or edited, or more than ``mass_change_share`` (default 0.1) of the source's stored
  articles (and at least :data:`MASS_SHARE_FLOOR` of them); the message names the counts and
  some examples. Either limit may be ``false``. A purge rewriting or removing the archive by
  the thousand is what it is for.

The last two read the per-run counters of ``run_stats``; a run without them is not judged.
An alarm is logged, listed by :func:`active_alarms`, and sent to the ``[health] notify``
targets (raised and cleared) through the notification outbox.

Configuration (all optional)::

    [health]
    quiet_after = "1d"              # or false
    parse_failure_share = 0.5
    min_pages = 5
    empty_listings = true
    mass_changes = 50               # or false
    mass_change_share = 0.1         # or false
    notify = ["webhook:https://example.org/ops"]

    [health.sources.kcnawatch]
    quiet_after = "2d"
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo

from crawler.sources import SOURCES, known
from scheduler.configtypes import Flag, Section, duration, format_duration, mistake, show, whole
from scheduler.monitor.notify.payloads import AlarmPayload
from scheduler.monitor.notify.settings import Targets
from storage.alarms import Alarms
from storage.outbox import Outbox
from storage.records import AlarmView, EventView, RunStats, RunView, utc_iso
from storage.repository import Repository

logger = logging.getLogger("health")

QUIET = "quiet"
EMPTY_LISTINGS = "empty-listings"
PARSE_FAILURES = "parse-failures"
MASS_CHANGES = "mass-changes"

DEFAULT_QUIET_AFTER = timedelta(days=1)
#: Runs of a source looked at for the layout alarms.
HISTORY_RUNS = 20
#: The fewest changed articles that ``mass_change_share`` counts (a small archive's one
#: deletion is no purge).
MASS_SHARE_FLOOR = 5
#: Changed articles a mass-changes alarm names as examples.
MASS_EXAMPLES = 3


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise mistake(f"expected a number above 0 and at most 1 (e.g. 0.5), got {show(value)}")
    return float(value)


def _off(value: Any) -> Any:
    """``false`` turns a limit off (None)."""
    return None if value is False else value


def _share_or_off(value: Any) -> float | None:
    return None if value is None or value is False else _share(value)


class SourceHealth(Section):
    """The thresholds of one source (``[health]``, or ``[health.sources.NAME]``)."""

    quiet_after: Annotated[timedelta | None, duration(positive=True, false_is_none=True)] = (
        DEFAULT_QUIET_AFTER  # None: never quiet
    )
    parse_failure_share: Annotated[float, BeforeValidator(_share)] = 0.5
    min_pages: Annotated[int, whole()] = 5
    empty_listings: Flag = True
    mass_changes: Annotated[int | None, whole(minimum=0), BeforeValidator(_off)] = 50
    mass_change_share: Annotated[float | None, BeforeValidator(_share_or_off)] = 0.1


def _inherit(value: Any, info: ValidationInfo) -> Any:
    """``[health.sources.NAME]`` tables, each completed with the ``[health]`` thresholds."""
    if not isinstance(value, dict):
        raise mistake(f"expected tables, got {show(value)}")
    inherited = {key: info.data[key] for key in SourceHealth.model_fields if key in info.data}
    tables = {}
    for name, table in value.items():
        if name not in SOURCES:
            raise mistake(f"unknown source (known: {known()})", at=name)
        tables[name] = {**inherited, **table} if isinstance(table, dict) else table
    return tables


class HealthConfig(SourceHealth):
    """The ``[health]`` table (defaults when absent): thresholds for every source, unless
    ``[health.sources.NAME]`` sets some of them for that source."""

    sources: Annotated[dict[str, SourceHealth], BeforeValidator(_inherit)] = Field(
        default_factory=dict
    )
    notify: Targets = ()

    def of(self, source: str) -> SourceHealth:
        return self.sources.get(source, self)


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


def mass_change_finding(
    config: SourceHealth, run: RunView | None, changes: Sequence[EventView], stored: int
) -> Finding:
    """The mass-changes check on the latest finished run, the ``gone`` and ``edited`` events
    recorded during it and the number of the source's stored articles."""
    if config.mass_changes is None and config.mass_change_share is None:
        return Finding(MASS_CHANGES, "")
    if run is None:
        return Finding(MASS_CHANGES, None)
    changed = len({event.article_id for event in changes})
    share = changed / stored if stored else 0.0
    limits = []
    if config.mass_changes is not None and changed > config.mass_changes:
        limits.append(f"more than {config.mass_changes}")
    floor = changed >= MASS_SHARE_FLOOR
    if config.mass_change_share is not None and floor and share > config.mass_change_share:
        limits.append(f"above {config.mass_change_share:.0%} of the archive")
    if not limits:
        return Finding(MASS_CHANGES, "")
    gone = len({e.article_id for e in changes if e.kind == "gone"})
    edited = len({e.article_id for e in changes if e.kind == "edited"})
    examples = "; ".join(
        f"{e.article_id} {e.kind}" + (f" ({e.detail})" if e.detail else "")
        for e in changes[:MASS_EXAMPLES]
    )
    return Finding(
        MASS_CHANGES,
        f"run {run.id}: {changed} articles changed at once ({gone} gone, {edited} edited;"
        f" {share:.0%} of {stored} stored), {' and '.join(limits)}; e.g. {examples}",
    )


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
    changes: list[AlarmChange] = []
    for source in sources:
        settings = config.of(source)
        prefixes = SOURCES[source].site_prefixes() if source in SOURCES else ()
        stored = (
            repo.articles.last_url_first_seen(prefixes),
            repo.runs.last_new_article_at(source),
        )
        last_new = max((t for t in stored if t is not None), default=None)
        findings = [quiet_finding(settings, last_new, repo.runs.first_run_at(source), now)]
        runs = [r for r in repo.runs.recent(limit=HISTORY_RUNS, source=source) if r.finished_at]
        findings += layout_findings(settings, runs, repo.runs.stats([r.id for r in runs]))
        findings.append(_mass_changes(repo, settings, runs[0] if runs else None, prefixes))
        for finding in findings:
            change = _apply(repo.alarms, source, finding, now)
            if change is not None:
                changes.append(change)
                _announce(repo.outbox, config, change, now)
    return changes


def _mass_changes(
    repo: Repository, config: SourceHealth, run: RunView | None, prefixes: Sequence[str]
) -> Finding:
    if run is None or run.finished_at is None:
        return mass_change_finding(config, None, (), 0)
    changes = repo.articles.changes_between(run.started_at, run.finished_at, prefixes)
    return mass_change_finding(config, run, changes, repo.articles.count_read_under(prefixes))


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
