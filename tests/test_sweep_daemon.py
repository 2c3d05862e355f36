"""End to end through the real daemon: after the first run stored the rebuilt site's articles,
one of them is edited, one retitled and one deleted on the site, and the daemon's scheduled
runs record all three (a new version each for the edit and the retitle, a gone mark for the
deletion) within one sweep period's worth of runs, with no manual command, while no run asks
the server for more stored articles' pages than the sweep's budget (besides the retitled
entry, which its listing has fetched again).

The daemon runs in this process (crawling in child processes) on a one-second schedule, as in
``tests/test_demo.py``; the test waits for its runs' reports, never sleeps. Revisits are off,
so only the sweep and the listings find the changes.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from replica.qpart import path_of
from replica.server import FixtureServer
from replica.site import BuiltSite, SiteArticle, build_site
from scheduler.config import Config
from scheduler.daemon.service import Daemon
from scheduler.daemon.supervisor import RunReport
from scheduler.demo import ArchiveIds, demo_config
from tests.test_notify_daemon import running
from tests.test_revisit import article_requests, events, reset_log

EVERY = timedelta(seconds=1)
SWEEP_EVERY = timedelta(seconds=20)
BUDGET = 3
#: One sweep period's worth of scheduled runs.
PERIOD_RUNS = int(SWEEP_EVERY / EVERY)


@dataclass
class Run:
    report: RunReport
    requests: list[str]  # the article pages asked for during the run


@pytest.fixture
def built() -> BuiltSite:
    return build_site()


@pytest.fixture
def server(built: BuiltSite) -> Iterator[FixtureServer]:
    with FixtureServer(built.site) as serving:
        yield serving


def sweeping_config(built: BuiltSite, server: FixtureServer, db_url: str) -> Config:
    """kcna.kp alone, every second, revisits off, sweeping every 20s within the budget."""
    config = demo_config(built, server.url, EVERY, db_url)
    kcna = config.sources["kcna"]
    config.sources["kcna"] = kcna.model_copy(
        update={
            "settings": {**kcna.settings, "KCNA_MONITOR_REVISIT_DAYS": 0},
            "sweep_every": SWEEP_EVERY,
            "sweep_budget": BUDGET,
        }
    )
    watch = config.sources["kcnawatch"]
    config.sources["kcnawatch"] = watch.model_copy(update={"enabled": False})
    return config


def pages(article: SiteArticle) -> set[str]:
    return {path_of(url) for url in article.urls}


@pytest.mark.e2e
def test_the_daemon_s_sweeps_record_edits_retitles_and_deletions_within_the_budget(
    built: BuiltSite, server: FixtureServer, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    config = sweeping_config(built, server, db_url)
    assert config.sources["kcna"].sweep_period == SWEEP_EVERY
    # The oldest changeable articles: the sweep takes the newest first, so these come last.
    edited, retitled, deleted = built.changeable()[-3:]
    old_title = retitled.title
    runs: queue.Queue[Run] = queue.Queue()
    marks: list[int] = []  # the last event before the changes

    def on_run(report: RunReport) -> None:
        requests = article_requests(built.site)
        reset_log(built.site)
        if not marks:  # after the first run, before the second
            marks.append(max((e.id for e in events(db_url)), default=0))
            built.edit(edited, text=edited.text + "\nA sentence added months later.")
            built.edit(retitled, title="Rewritten: " + old_title)
            built.delete(deleted)
        runs.put(Run(report, requests))

    ids = ArchiveIds(db_url)
    seen: list[Run] = []
    try:
        with running(Daemon(config, db_url=db_url, on_run=on_run)):
            first = runs.get(timeout=120)
            assert first.report.status == "ok", first.report.error
            targets = {"edited": ids(edited), "retitled": ids(retitled), "deleted": ids(deleted)}
            assert None not in targets.values(), targets
            [mark] = marks
            wanted = {(targets["edited"], "edited"), (targets["retitled"], "edited")}
            wanted.add((targets["deleted"], "gone"))
            while wanted - {(e.article_id, e.kind) for e in events(db_url, mark)}:
                assert len(seen) < PERIOD_RUNS, (
                    f"not all recorded within {PERIOD_RUNS} runs: {events(db_url, mark)}"
                )
                run = runs.get(timeout=120)
                assert run.report.status == "ok", run.report.error
                seen.append(run)
    finally:
        ids.close()

    # Counted at the server, listings aside: the run after the retitle fetches the retitled
    # entry again (a listing signal); every other article page a run asks for is the sweep's,
    # and every run sweeps some (the archive's share per run, at most the budget).
    for number, run in enumerate(seen, start=2):
        signalled = pages(retitled) if number == 2 else set()
        swept = [path for path in run.requests if path not in signalled]
        assert 0 < len(swept) <= BUDGET, f"run {number} asked for {run.requests}"

    recorded = events(db_url, mark)
    kinds = sorted((e.article_id, e.kind) for e in recorded)
    assert kinds == sorted(wanted), recorded
    versions = {e.article_id: e.version for e in recorded if e.kind == "edited"}
    assert versions == {targets["edited"]: 2, targets["retitled"]: 2}
