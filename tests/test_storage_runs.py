"""Runs, on SQLite and on PostgreSQL: crawl runs started, finished, closed and listed, the
failures of a run, its stats and the figures over runs, and the daemon's state per source."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from storage.errors import UnknownRun
from storage.records import FailureInput, RunStats, SourceState
from storage.repository import Repository
from tests.storage_helpers import HOUR, T0, last_failures, q_url

MINUTE = timedelta(minutes=1)


def test_runs_are_recorded_and_listed_newest_first(repo: Repository) -> None:
    first = repo.runs.start("kcna", T0)
    second = repo.runs.start("kcnawatch", T0 + HOUR)
    assert [r.status for r in repo.runs.recent(10)] == ["running", "running"]
    repo.runs.finish(
        first,
        finished_at=T0 + 2 * HOUR,
        status="ok",
        pages=10,
        new=3,
        changed=1,
        unchanged=6,
        failures=1,
    )
    repo.runs.finish(
        second,
        finished_at=T0 + 3 * HOUR,
        status="failed",
        pages=0,
        new=0,
        changed=0,
        unchanged=0,
        failures=0,
        error="site unreachable",
    )
    runs = repo.runs.recent(10)
    assert [r.id for r in runs] == [second, first]
    assert runs[0].error == "site unreachable" and runs[0].finished_at == T0 + 3 * HOUR
    kcna = repo.runs.recent(5, source="kcna")
    assert len(kcna) == 1
    assert (kcna[0].status, kcna[0].pages, kcna[0].new, kcna[0].changed) == ("ok", 10, 3, 1)
    assert (kcna[0].unchanged, kcna[0].failures, kcna[0].error) == (6, 1, None)
    assert repo.runs.recent(1) == runs[:1]


def test_failures_are_recorded_with_or_without_a_run(repo: Repository, engine: Engine) -> None:
    first = repo.runs.start("kcna", T0)
    repo.runs.record_failures(first, [FailureInput(q_url(1), "timeout", T0 + HOUR)])
    repo.runs.record_failures(
        None, [FailureInput(q_url(2), "parse error: no title", T0 + 2 * HOUR)]
    )
    repo.runs.record_failures(None, [])
    failures = last_failures(engine, 10)
    assert [(f.run_id, f.url, f.reason) for f in failures] == [
        (None, q_url(2), "parse error: no title"),
        (first, q_url(1), "timeout"),
    ]
    assert failures[0].at == T0 + 2 * HOUR
    assert len(last_failures(engine, 1)) == 1


def test_finishing_an_unknown_run_or_with_an_unknown_status_is_refused(repo: Repository) -> None:
    first = repo.runs.start("kcna", T0)
    with pytest.raises(UnknownRun):
        repo.runs.finish(
            999999,
            finished_at=T0,
            status="ok",
            pages=0,
            new=0,
            changed=0,
            unchanged=0,
            failures=0,
        )
    with pytest.raises(ValueError, match="status"):
        repo.runs.finish(
            first,
            finished_at=T0,
            status="done",
            pages=0,
            new=0,
            changed=0,
            unchanged=0,
            failures=0,
        )


def test_close_run_only_closes_a_running_run_and_keeps_its_counts(repo: Repository) -> None:
    run_id = repo.runs.start("kcna", T0)
    assert repo.runs.close(run_id, finished_at=T0 + HOUR, status="failed", error="exit 1")
    run = repo.runs.get(run_id)
    assert run is not None
    assert (run.status, run.error, run.finished_at, run.pages) == ("failed", "exit 1", T0 + HOUR, 0)
    # Already closed: left as it is.
    assert not repo.runs.close(run_id, finished_at=T0, status="interrupted", error=None)
    assert repo.runs.get(run_id).status == "failed"  # type: ignore[union-attr]
    assert repo.runs.get(run_id + 100) is None
    with pytest.raises(ValueError):
        repo.runs.close(run_id, finished_at=T0, status="running", error=None)


def test_recent_runs_by_status(repo: Repository) -> None:
    ok = repo.runs.start("kcna", T0)
    repo.runs.finish(
        ok, finished_at=T0, status="ok", pages=1, new=1, changed=0, unchanged=0, failures=0
    )
    bad = repo.runs.start("kcna", T0 + HOUR)
    repo.runs.close(bad, finished_at=T0 + HOUR, status="failed", error="boom")
    assert [r.id for r in repo.runs.recent(source="kcna", status="failed")] == [bad]
    assert [r.id for r in repo.runs.recent(source="kcna", status="ok")] == [ok]
    assert [r.id for r in repo.runs.recent(source="kcna")] == [bad, ok]


def test_run_stats_and_run_figures(repo: Repository) -> None:
    first = repo.runs.start("kcna", T0)
    repo.runs.finish(
        first,
        finished_at=T0 + MINUTE,
        status="ok",
        pages=10,
        new=3,
        changed=1,
        unchanged=6,
        failures=0,
    )
    second = repo.runs.start("kcna", T0 + HOUR)
    repo.runs.finish(
        second,
        finished_at=T0 + HOUR + MINUTE,
        status="ok",
        pages=4,
        new=0,
        changed=0,
        unchanged=2,
        failures=2,
    )
    failed = repo.runs.start("kcnawatch", T0)
    repo.runs.finish(
        failed,
        finished_at=T0 + MINUTE,
        status="failed",
        pages=0,
        new=0,
        changed=0,
        unchanged=0,
        failures=1,
    )
    stats = RunStats(listing_pages=2, empty_listings=1, articles_parsed=6, parse_failures=2)
    repo.runs.save_stats(first, RunStats(listing_pages=2), T0)
    repo.runs.save_stats(first, stats, T0 + MINUTE)  # replaced
    assert repo.runs.stats([first, second]) == {first: stats}
    assert stats.pages_parsed == 10

    assert repo.runs.last_new_article_at("kcna") == T0 + MINUTE
    assert repo.runs.last_new_article_at("kcnawatch") is None
    assert repo.runs.first_run_at("kcna") == T0
    assert repo.runs.last_success() == {"kcna": T0 + HOUR + MINUTE}
    totals = {(t.source, t.status): t for t in repo.runs.totals()}
    assert totals["kcna", "ok"].runs == 2 and totals["kcna", "ok"].pages == 14
    assert totals["kcna", "ok"].failures == 2 and totals["kcnawatch", "failed"].runs == 1


def test_source_state_round_trip_and_replace(repo: Repository) -> None:
    assert repo.runs.source_states() == {}
    first = SourceState(
        source="kcna",
        updated_at=T0,
        schedule="every 15m",
        next_run_at=T0 + HOUR,
        pid=42,
        host="box",
    )
    repo.runs.save_source_state(first)
    assert repo.runs.source_states() == {"kcna": first}

    run_id = repo.runs.start("kcna", T0)
    second = SourceState(
        source="kcna",
        updated_at=T0 + HOUR,
        schedule="every 15m",
        next_run_at=None,
        current_run_id=run_id,
        last_error="timed out after 10m",
        last_error_at=T0 + HOUR,
        pid=43,
        host="box",
    )
    repo.runs.save_source_state(second)
    repo.runs.save_source_state(SourceState(source="kcnawatch", updated_at=T0))
    states = repo.runs.source_states()
    assert states["kcna"] == second
    assert states["kcnawatch"].next_run_at is None
    assert states["kcna"].next_run_at is None and states["kcna"].updated_at == T0 + HOUR
