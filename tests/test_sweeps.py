"""Archive sweeps: how many stored articles a run checks again (the budget arithmetic), which
ones (never re-checked first, newest first; then the least recently checked), how far the
current period got, and, end to end on the rebuilt site, that a plain crawl with a sweep
records an old article's edit and deletion without a ``recheck``, within its budget."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from crawler.sweep import Sweep
from replica.render import kcna
from replica.server import FixtureServer
from replica.site import BuiltSite, build_site
from scheduler.config import ConfigError, parse_config
from scheduler.daemon.supervisor import RunSupervisor, SourceStates
from scheduler.web.context import WebContext
from storage.db import make_engine
from storage.repository import Repository
from tests.storage_helpers import DAY, HOUR, T0, make_item, q_url, watch_url
from tests.test_e2e_crawl import crawl, export, totals
from tests.test_revisit import article_requests, events, reset_log
from tests.test_status import status

KCNA = ("http://www.kcna.kp/",)
WATCH = ("https://kcnawatch.org/",)
MINUTE = timedelta(minutes=1)
PREFIX = "kcna_monitor_sweep_"


# -- the budget arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("articles", "every", "budget", "interval", "quota"),
    [
        (0, 30 * DAY, 50, 15 * MINUTE, 0),
        (1, 30 * DAY, 50, 15 * MINUTE, 1),  # rounded up: never a share of nothing
        (2880, 30 * DAY, 50, 15 * MINUTE, 1),  # 2880 runs in 30 days
        (2881, 30 * DAY, 50, 15 * MINUTE, 2),
        (100_000, 30 * DAY, 50, 15 * MINUTE, 35),
        (1_000_000, 30 * DAY, 50, 15 * MINUTE, 50),  # capped by the budget
        (10, 20 * timedelta(seconds=1), 3, 15 * MINUTE, 3),  # a test site's short period
        (100, DAY, 500, DAY, 100),  # one run a period: all of them
        (100, DAY, 0, HOUR, 0),
    ],
)
def test_a_run_checks_enough_to_cover_the_archive_within_the_period_and_the_budget(
    articles: int, every: timedelta, budget: int, interval: timedelta, quota: int
) -> None:
    assert Sweep(every, budget, interval).quota(articles) == quota


def test_the_sweep_travels_in_settings() -> None:
    sweep = Sweep(30 * DAY, 40, 15 * MINUTE)
    assert Sweep.from_settings(sweep.to_settings()) == sweep
    assert Sweep.from_settings({}) is None
    assert Sweep.from_settings({"KCNA_MONITOR_SWEEP_EVERY": "0"}) is None
    short = Sweep.from_settings({"KCNA_MONITOR_SWEEP_EVERY": "20"})
    assert short == Sweep(timedelta(seconds=20), 50, timedelta(seconds=20))
    assert short.cutoff(T0) == T0 - timedelta(seconds=20)
    with pytest.raises(ValueError, match="BUDGET"):
        Sweep(DAY, -1, HOUR)


@pytest.mark.parametrize(
    ("text", "every", "budget"),
    [
        ("", 30 * DAY, 50),  # the defaults
        ('sweep_every = "7d"\nsweep_budget = 10', 7 * DAY, 10),
        ('sweep_every = "20s"', timedelta(seconds=20), 50),  # for a local test site
        ("sweep_every = false", None, 50),
        ("sweep_budget = 0", None, 0),
    ],
)
def test_a_source_s_sweep_is_configured_and_passed_to_its_crawl(
    text: str, every: timedelta | None, budget: int
) -> None:
    config = parse_config(f'[sources.kcna]\nevery = "15m"\n{text}\n')
    source = config.sources["kcna"]
    assert (source.sweep_period, source.sweep_budget) == (every, budget)
    clock = lambda: T0  # noqa: E731
    supervisor = RunSupervisor(
        SourceStates(clock, pid=os.getpid(), host="h"), db_url="", clock=clock
    )
    command = supervisor.command(source, run_id=7)
    settings = dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "--set")
    if every is None:
        assert not any(key.startswith("KCNA_MONITOR_SWEEP") for key in settings)
    else:
        assert Sweep.from_settings(settings) == Sweep(every, budget, 15 * MINUTE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('sweep_every = "0s"', "sources.kcna.sweep_every: 0s is too short"),
        ("sweep_every = true", "sources.kcna.sweep_every"),
        ("sweep_budget = -1", "sources.kcna.sweep_budget: expected a whole number (0: no"),
    ],
)
def test_a_bad_sweep_setting_is_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"[sources.kcna]\n{text}\n")
    assert message in str(caught.value)


# -- which articles, and how far the period got -------------------------------------------------


def test_never_checked_come_first_newest_first_then_the_least_recently_checked(
    repo: Repository,
) -> None:
    days = {1: date(2026, 1, 1), 2: date(2026, 3, 1), 3: None, 4: date(2026, 2, 1)}
    days |= {5: date(2025, 1, 1), 6: date(2025, 2, 1), 7: date(2025, 3, 1)}
    repo.articles.save([make_item(n, published=day) for n, day in days.items()])
    now = T0 + 40 * DAY
    repo.crawl_state.mark_checked([q_url(5)], T0 + 2 * DAY)
    repo.crawl_state.mark_checked([q_url(6)], T0 + DAY)
    repo.crawl_state.mark_checked([q_url(7)], now - HOUR)  # checked in this period

    def due(limit: int) -> list[str]:
        chosen = repo.crawl_state.due_for_sweep(KCNA, checked_before=now - 30 * DAY, limit=limit)
        return list(chosen)

    order = [q_url(2), q_url(4), q_url(1), q_url(3), q_url(6), q_url(5)]
    assert due(100) == order
    for limit in (0, 1, 3, 5):
        assert due(limit) == order[:limit]
    assert repo.crawl_state.due_for_sweep(WATCH, checked_before=now, limit=10) == {}


def test_a_copy_is_swept_by_the_site_it_was_read_at(repo: Repository) -> None:
    repo.articles.save([make_item(1, url=watch_url(1), canonical_url=q_url(1))])
    now = T0 + DAY
    assert repo.crawl_state.due_for_sweep(KCNA, checked_before=now, limit=5) == {}
    assert list(repo.crawl_state.due_for_sweep(WATCH, checked_before=now, limit=5)) == [
        watch_url(1)
    ]
    assert repo.crawl_state.sweep_progress(KCNA, since=now).articles == 0
    assert repo.crawl_state.sweep_progress(WATCH, since=now).articles == 1


def test_progress_is_the_share_checked_in_this_period_and_the_oldest_check(
    repo: Repository,
) -> None:
    repo.articles.save([make_item(n) for n in range(1, 5)])
    now = T0 + 40 * DAY
    since = now - 30 * DAY
    empty = repo.crawl_state.sweep_progress(KCNA, since=since)
    assert (empty.articles, empty.checked, empty.never, empty.oldest) == (4, 0, 4, None)
    repo.crawl_state.mark_checked([q_url(1)], T0 + DAY)  # before this period
    repo.crawl_state.mark_checked([q_url(2), q_url(3)], now - DAY)
    progress = repo.crawl_state.sweep_progress(KCNA, since=since)
    assert (progress.articles, progress.checked, progress.never) == (4, 2, 1)
    assert progress.oldest == T0 + DAY
    assert progress.share == 0.5
    assert repo.crawl_state.sweep_progress(WATCH, since=since).share == 1.0


def test_status_shows_how_far_the_sweep_got(
    tmp_path: Path, migrated_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no file: the defaults
    repo = Repository(make_engine(migrated_sqlite))
    repo.articles.save([make_item(n) for n in range(1, 5)])
    checked_at = datetime.now(UTC) - HOUR
    repo.crawl_state.mark_checked([q_url(1), q_url(2), q_url(3)], checked_at)
    repo.engine.dispose()
    sweep = json.loads(status(migrated_sqlite, "--json"))["sources"]["kcna"]["sweep"]
    assert sweep == {
        "every": "30d",
        "articles": 4,
        "checked": 3,
        "share": 0.75,
        "never_checked": 1,
        "oldest_check": checked_at.isoformat(),
    }
    assert (
        "  sweep       every 30d: 75% of 4 articles checked in this period, 1 never checked;"
        f" oldest check {checked_at:%Y-%m-%d %H:%M:%S} UTC (1h"
    ) in status(migrated_sqlite)


def test_metrics_show_how_far_the_sweep_got(repo: Repository) -> None:
    repo.articles.save([make_item(n) for n in range(1, 5)])
    now = T0 + 40 * DAY
    repo.crawl_state.mark_checked([q_url(1)], T0 + DAY)
    repo.crawl_state.mark_checked([q_url(2), q_url(3)], now - DAY)
    config = parse_config(
        '[sources.kcna]\nsweep_every = "30d"\n[sources.kcnawatch]\nsweep_budget = 0\n'
    )
    url = repo.engine.url.render_as_string(hide_password=False)
    text = WebContext(repo, config, url, clock=lambda: now).metrics()  # what /metrics serves
    assert 'kcna_monitor_sweep_checked_ratio{source="kcna"} 0.5' in text
    assert 'kcna_monitor_sweep_never_checked{source="kcna"} 1.0' in text
    [oldest] = [
        line.split()[-1] for line in text.splitlines() if line.startswith(PREFIX + "oldest_check")
    ]
    assert float(oldest) == (T0 + DAY).timestamp()
    assert 'source="kcnawatch"' not in text  # no sweep there


# -- end to end ---------------------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[tuple[BuiltSite, FixtureServer]]:
    built = build_site()
    with FixtureServer(built.site) as server:
        yield built, server


BUDGET = 4
#: A crawl that revisits nothing (revisits are for young articles) and sweeps 4 a run.
SWEEPING = (
    *("--set", "KCNA_MONITOR_REVISIT_DAYS=0"),
    *("--set", "KCNA_MONITOR_SWEEP_EVERY=20"),
    *("--set", f"KCNA_MONITOR_SWEEP_BUDGET={BUDGET}"),
)


@pytest.mark.e2e
def test_a_crawl_with_a_sweep_records_old_edits_and_deletions_within_its_budget(
    site: tuple[BuiltSite, FixtureServer], tmp_path: Path
) -> None:
    built, server = site
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    first = crawl(server, built, db_url, tmp_path, "--set", "KCNA_MONITOR_REVISIT_DAYS=0")
    assert first.returncode == 0, first.stderr
    stored = {r["title"]: r for r in export(db_url, tmp_path)}
    edited = built.changeable()[0]
    edited_title = edited.title
    built.edit(edited, text=edited.text + "\nA sentence added months later.")
    deleted = built.detail_records[-1]  # no KCNA Watch copy of it; still listed
    deleted_path = kcna.detail_path(deleted)
    built.site.remove(deleted_path)
    mark = max((e.id for e in events(db_url)), default=0)

    runs = 0
    while {"edited", "gone"} - {e.kind for e in events(db_url, mark)}:
        runs += 1
        assert runs <= len(stored) // BUDGET + 2, "the sweep never got to them"
        gone_before = "gone" in {e.kind for e in events(db_url, mark)}
        reset_log(built.site)
        result = crawl(server, built, db_url, tmp_path, *SWEEPING)
        assert result.returncode == 0, result.stderr
        assert "failed 0" in totals(result.stdout)
        # Counted at the server, per source; an article marked gone is asked for again
        # when its listing still shows it (is it back?), besides the sweep.
        requests = article_requests(built.site)
        watch = [p for p in requests if p.startswith("/newstream/")]
        own = [p for p in requests if p not in watch]
        assert len(watch) <= BUDGET
        assert len(own) <= BUDGET + (gone_before and deleted_path in own)

    records = {r["title"]: r for r in export(db_url, tmp_path)}
    assert records[deleted["title"]]["gone"] is not None
    changed = next(r for r in records.values() if r["id"] == stored[edited_title]["id"])
    assert changed["versions"] == 2
    assert "A sentence added months later." in changed["text"]
    kinds = sorted(e.kind for e in events(db_url, mark))
    assert kinds == ["edited", "gone"]
