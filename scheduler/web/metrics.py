"""``/metrics``: the archive's figures in the Prometheus text format (version 0.0.4), rendered
by ``prometheus_client`` from a collector that reads them from the database at each scrape.

The metrics (all prefixed ``kcna_monitor_``): ``database_up``; per source ``runs_total`` (by
final status), ``pages_total``, ``articles_total`` (by outcome), ``failures_total`` and
``last_success_timestamp_seconds``; ``article_events_total`` by kind; ``articles_stored``;
``notifications`` in the outbox by status; ``source_alarm`` per active alarm; per source with
an archive sweep, ``sweep_checked_ratio`` (the share of its articles checked in the current
period), ``sweep_never_checked`` and ``sweep_oldest_check_timestamp_seconds``; per daemon
node sharing the archive (PostgreSQL), ``node_up`` and ``node_config_differs``. When the
database does not answer, only ``database_up 0`` is served.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from crawler.sources import SOURCES
from storage.db import ping
from storage.errors import StorageError
from storage.records import RunTotals
from storage.repository import Repository

#: The format :func:`prometheus_client.generate_latest` writes.
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "kcna_monitor_"
_SUMS = ("pages", "new", "changed", "unchanged", "failures")
_OUTCOMES = ("new", "changed", "unchanged")
_EVENT_KINDS = ("new", "edited", "gone", "back")


def _gauge(name: str, help_text: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, help_text, labels=list(labels))


def _counter(name: str, help_text: str, labels: tuple[str, ...]) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, help_text, labels=list(labels))


class ArchiveCollector:
    """A ``prometheus_client`` collector of the figures of one archive, read afresh at each
    :meth:`collect` (none is kept between two scrapes). A :class:`StorageError` after the
    first read goes to the caller."""

    def __init__(
        self,
        repo: Repository,
        sweeps: Mapping[str, timedelta] | None = None,
        now: datetime | None = None,
        nodes: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.repo = repo
        #: Reads the nodes that checked in lately (:func:`~scheduler.daemon.status.nodes_report`).
        self.nodes = nodes
        #: Source name -> its sweep period, for the sources that sweep.
        self.sweeps = dict(sweeps or {})
        self.now = now

    def collect(self) -> Iterator[Metric]:
        up = _gauge("database_up", "Whether the database answered.")
        try:
            ping(self.repo.engine)
        except StorageError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._runs(self.repo.runs.totals())
        yield from self._archive()
        yield from self._monitoring()
        yield from self._sweeps()
        yield from self._nodes()

    def _runs(self, totals: list[RunTotals]) -> Iterator[Metric]:
        runs = _counter(
            "runs_total", "Crawl runs, by source and final status.", ("source", "status")
        )
        by_source: dict[str, dict[str, int]] = {}
        for t in totals:
            runs.add_metric([t.source, t.status], t.runs)
            sums = by_source.setdefault(t.source, dict.fromkeys(_SUMS, 0))
            for key in sums:
                sums[key] += getattr(t, key)
        yield runs
        pages = _counter("pages_total", "Pages fetched by crawl runs.", ("source",))
        articles = _counter(
            "articles_total",
            "Articles stored by crawl runs, by outcome (new, changed, unchanged).",
            ("source", "outcome"),
        )
        failures = _counter(
            "failures_total", "Pages that could not be fetched or parsed.", ("source",)
        )
        for source, sums in sorted(by_source.items()):
            pages.add_metric([source], sums["pages"])
            for outcome in _OUTCOMES:
                articles.add_metric([source, outcome], sums[outcome])
            failures.add_metric([source], sums["failures"])
        yield from (pages, articles, failures)

    def _archive(self) -> Iterator[Metric]:
        events = _counter(
            "article_events_total", "Article events: new, edited, gone, back.", ("kind",)
        )
        counts = self.repo.articles.event_counts()
        for kind in _EVENT_KINDS:
            events.add_metric([kind], counts.get(kind, 0))
        yield events
        stored = _gauge("articles_stored", "Articles in the archive.")
        stored.add_metric([], self.repo.articles.count())
        yield stored
        last = _gauge(
            "last_success_timestamp_seconds",
            "When the latest successful run of each source finished (Unix time).",
            ("source",),
        )
        for source, moment in sorted(self.repo.runs.last_success().items()):
            last.add_metric([source], round(moment.timestamp(), 3))
        yield last

    def _monitoring(self) -> Iterator[Metric]:
        outbox = _gauge(
            "notifications",
            "Notifications in the outbox, by status (pending is the queue).",
            ("status",),
        )
        for status, count in self.repo.outbox.counts().items():
            outbox.add_metric([status], count)
        yield outbox
        alarms = _gauge(
            "source_alarm", "Active health alarms (1 per source and alarm).", ("source", "alarm")
        )
        for alarm in self.repo.alarms.active():
            alarms.add_metric([alarm.source, alarm.kind], 1)
        yield alarms

    def _sweeps(self) -> Iterator[Metric]:
        ratio = _gauge(
            "sweep_checked_ratio",
            "Share of the source's articles checked in the current sweep period.",
            ("source",),
        )
        never = _gauge(
            "sweep_never_checked", "The source's articles never checked again.", ("source",)
        )
        oldest = _gauge(
            "sweep_oldest_check_timestamp_seconds",
            "When the least recently checked of the source's articles was checked (Unix time).",
            ("source",),
        )
        now = self.now or datetime.now(UTC)
        for name, every in sorted(self.sweeps.items()):
            prefixes = SOURCES[name].site_prefixes()
            progress = self.repo.crawl_state.sweep_progress(prefixes, since=now - every)
            ratio.add_metric([name], round(progress.share, 6))
            never.add_metric([name], progress.never)
            if progress.oldest is not None:
                oldest.add_metric([name], round(progress.oldest.timestamp(), 3))
        yield from (ratio, never, oldest)

    def _nodes(self) -> Iterator[Metric]:
        labels = ("node", "host", "pid")
        up = _gauge("node_up", "Whether the daemon node checked in within its lease.", labels)
        differs = _gauge(
            "node_config_differs",
            "Whether the node's configuration differs from most live nodes'.",
            labels,
        )
        for node in self.nodes() if self.nodes is not None else []:
            values = [node["node"], node["host"], str(node["pid"])]
            up.add_metric(values, 1 if node["alive"] else 0)
            differs.add_metric(values, 1 if node["config_differs"] else 0)
        yield from (up, differs)


def render(
    repo: Repository,
    sweeps: Mapping[str, timedelta] | None = None,
    now: datetime | None = None,
    nodes: Callable[[], list[dict[str, Any]]] | None = None,
) -> bytes:
    """The text ``/metrics`` answers, read from the database now (``sweeps``: source name ->
    sweep period, for the sources that sweep; ``nodes`` reads the daemon nodes)."""
    return generate_latest(ArchiveCollector(repo, sweeps, now, nodes))
