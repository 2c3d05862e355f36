"""The command line: every command explains itself; the crawl command's daemon options."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from crawler.plan import CrawlPlan
from scheduler.cli.main import build_parser, main
from scheduler.cli.options import user_date
from scheduler.crawl.options import CrawlOptions, OptionError, plan
from scheduler.crawl.run import build_settings
from scheduler.daemon.child import crawl_command


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_has_help_text() -> None:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in action._choices_actions}
    archive = {"crawl", "backfill", "export", "show", "list", "run", "status", "demo"}
    reading = {"watch", "feed", "serve", "history", "recheck", "search", "reindex"}
    assert set(helps) == archive | reading
    for name, sub in subcommands().items():
        assert helps[name], f"{name} has no help line"
        for option in sub._actions:
            if option.help is argparse.SUPPRESS or isinstance(option, argparse._HelpAction):
                continue
            assert option.help or option.choices, f"{name} {option.option_strings} has no help"


@pytest.mark.parametrize("command", ["run", "status", "demo", "crawl"])
def test_help_prints_and_exits_0(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"kcna-monitor {command}" in text
    assert "--run-id" not in text  # the daemon's own options stay hidden


def test_the_daemon_runs_the_same_command_a_person_types() -> None:
    command = crawl_command(
        "kcna",
        db_url="sqlite:///a.db",
        run_id=7,
        base_url="http://mirror.example.org",
        start_urls=["http://mirror.example.org/list"],
        settings={"DOWNLOAD_DELAY": "2"},
    )
    assert command[1:4] == ["-m", "scheduler.cli", "crawl"]
    args = build_parser().parse_args(command[3:])
    assert (args.sources, args.run_id, args.exit_with_parent) == (["kcna"], 7, True)
    assert args.base_url == "http://mirror.example.org" and args.set == ["DOWNLOAD_DELAY=2"]


def test_run_id_needs_one_source_and_reaches_the_store_pipeline() -> None:
    with pytest.raises(OptionError, match="--run-id needs exactly one source"):
        plan(CrawlOptions(sources=["kcna", "kcnawatch"], run_id=3))
    settings = build_settings(CrawlOptions(sources=["kcna"], run_id=3, db_url="sqlite://"))
    assert settings.getint("KCNA_MONITOR_RUN_ID") == 3
    assert "crawler.pipelines.store.StorePipeline" in settings.getdict("ITEM_PIPELINES")
    assert settings.get("STATS_CLASS") == "crawler.statscollectors.RunStatsCollector"


def test_the_crawl_plan_is_parsed_once_and_a_bad_one_is_one_line() -> None:
    told = CrawlOptions(sources=["kcna"], settings={"KCNA_MONITOR_PLAN": "refetch"})
    assert build_settings(told).get("KCNA_MONITOR_PLAN") == CrawlPlan("refetch")
    recheck = CrawlPlan("recheck", ids=("3f2a",))
    assert build_settings(CrawlOptions(plan=recheck)).get("KCNA_MONITOR_PLAN") is recheck
    for settings in ({"KCNA_MONITOR_PLAN": "sideways"}, {"KCNA_MONITOR_INCREMENTAL": "false"}):
        with pytest.raises(OptionError, match="KCNA_MONITOR_"):
            plan(CrawlOptions(sources=["kcna"], settings=settings))


def test_settings_do_not_depend_on_the_working_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no scrapy.cfg here
    monkeypatch.delenv("SCRAPY_SETTINGS_MODULE", raising=False)
    settings = build_settings(CrawlOptions(sources=["kcna"], db_url="sqlite://"))
    assert "crawler.pipelines.store.StorePipeline" in settings.getdict("ITEM_PIPELINES")
    assert settings.get("BOT_NAME") == "kcna-monitor"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", date(2024, 5, 1)),  # ISO
        ("2024/5/1", date(2024, 5, 1)),  # year first is year, month, day
        ("2024.05.01", date(2024, 5, 1)),
        ("20240501", date(2024, 5, 1)),
        ("1 May 2024", date(2024, 5, 1)),
        ("May 1 2024", date(2024, 5, 1)),
        ("May 1, 2024", date(2024, 5, 1)),
        ("1st of May, 2024", date(2024, 5, 1)),
        (" 2024-05-01 ", date(2024, 5, 1)),
        ("13/05/2024", date(2024, 5, 13)),  # only one reading: day first
        ("05/13/2024", date(2024, 5, 13)),  # only one reading: month first
        ("05/05/2024", date(2024, 5, 5)),  # both readings agree
    ],
)
def test_user_dates(text: str, expected: date) -> None:
    assert user_date(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("01/05/2024", "ambiguous date"),  # 5 January or 1 May
        ("May 2024", "not a date"),  # no day: none is invented
        ("2024", "not a date"),
        ("May 1", "not a date"),  # no year
        ("1/5/24", "not a date"),  # no full year
        ("2024/13/1", "not a date"),
        ("yesterday", "not a date"),
        ("", "not a date"),
    ],
)
def test_user_dates_refused(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        user_date(text)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("KCNA_MONITOR_SWEEP_EVERY", "abc", "expected a number of seconds, got 'abc'"),
        ("KCNA_MONITOR_SWEEP_BUDGET", "1.5", "expected a whole number, got '1.5'"),
    ],
)
def test_a_sweep_setting_that_is_not_a_number_is_one_line(
    name: str, value: str, expected: str
) -> None:
    settings = {"KCNA_MONITOR_SWEEP_EVERY": "60", name: value}
    with pytest.raises(OptionError, match=f"^{name}: {expected}$"):
        plan(CrawlOptions(sources=["kcna"], settings=settings))
