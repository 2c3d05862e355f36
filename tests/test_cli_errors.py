"""Mistakes on the command line and failures to do the job: each is one line on stderr and
exit status 2 (the command line or configuration is wrong) or 1 (the job could not be done),
never a traceback, an "unexpected ..." message or a usage block."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.crawl.options import CrawlOptions, OptionError, plan
from storage.db import make_engine
from storage.repository import Repository
from tests.storage_helpers import make_item

EVIL_START = "http://evil.example/en/article/q/5b0b1c0f8e0f0b7d1e8b4a1c3c1e6a77.kcmsf"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the command line in this process: (exit status, stdout, the stderr line)."""
    out = io.StringIO()
    try:
        code = main(argv, out=out)
    except SystemExit as done:
        code = done.code
    err = capsys.readouterr().err
    return code, out.getvalue(), err


def assert_one_line(err: str, *parts: str) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert err.startswith("kcna-monitor"), err
    assert "unexpected" not in err and "Traceback" not in err and "usage:" not in err, err
    for part in parts:
        assert part in err, (part, err)


@pytest.fixture
def db(migrated_sqlite: str) -> str:
    url = migrated_sqlite
    engine = make_engine(url)
    Repository(engine).articles.save([make_item(1), make_item(2)])
    engine.dispose()
    return url


# -- export -o --------------------------------------------------------------------------


def test_export_to_a_folder_is_one_line(db: str, tmp_path: Path, capsys) -> None:
    code, _, err = run(["export", "-o", str(tmp_path), "--db", db], capsys)
    assert code == 1
    assert_one_line(err, f"cannot write {tmp_path}: {tmp_path} is a folder")


def test_export_into_a_missing_folder_is_one_line(db: str, capsys) -> None:
    code, _, err = run(["export", "-o", "/missing/dir/x", "--db", db], capsys)
    assert code == 1
    assert_one_line(err, "cannot write /missing/dir/x: folder /missing/dir does not exist")
    code, _, err = run(["export", "--all-versions", "-o", "/missing/dir/x", "--db", db], capsys)
    assert code == 1
    assert_one_line(err, "cannot write /missing/dir/x: folder /missing/dir does not exist")


def test_a_failed_export_leaves_the_earlier_file_as_it_was(tmp_path: Path, capsys) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("earlier export\n", encoding="utf-8")
    code, _, err = run(["export", "-o", str(target), "--db", "sqlite:///" + str(target)], capsys)
    assert code == 1
    assert_one_line(err, "file is not a database")
    assert target.read_text(encoding="utf-8") == "earlier export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_export_to_a_file_writes_it_whole(db: str, tmp_path: Path, capsys) -> None:
    target = tmp_path / "out.csv"
    code, _, err = run(["export", "--format", "csv", "-o", str(target), "--db", db], capsys)
    assert code == 0 and err == f"exported 2 articles to {target}\n"
    assert len(target.read_text(encoding="utf-8").splitlines()) == 3
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")]


# -- whole numbers ------------------------------------------------------------------------

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--limit", HUGE], f"argument --limit: must be at most 1000000000, got {HUGE}"),
        (["list", "--offset", HUGE], "argument --offset: must be at most 1000000000"),
        (["list", "--offset", "-5"], "argument --offset: must be at least 0, got -5"),
        (["list", "--limit", "0"], "argument --limit: must be at least 1, got 0"),
        (["list", "--limit", "ten"], "argument --limit: not a whole number: 'ten'"),
        (["list", "--sort", "title"], "argument --sort: invalid choice: 'title'"),
        (["crawl", "--max-pages", HUGE], "argument --max-pages: must be at most 1000000000"),
        (["backfill", "kcna", "--pages", HUGE], "argument --pages: must be at most"),
        (["watch", "test", "x", "--limit", HUGE], "argument --limit: must be at most"),
        (["feed", "--limit", HUGE], "argument --limit: must be at most"),
        (["demo", "--port", "70000"], "argument --port: must be at most 65535, got 70000"),
        (["show"], "the following arguments are required: ID"),
        (["export", "--since", "spring"], "argument --since: not a date: 'spring' (write day,"),
        (["export", "--until", "May 2024"], "argument --until: not a date: 'May 2024'"),
        (["export", "--since", "1/5/24"], "argument --since: not a date: '1/5/24'"),  # year?
        (["export", "--since", "2024-02-30"], "argument --since: not a date: '2024-02-30'"),
        (
            ["recheck", "--since", "01/05/2024"],
            "argument --since: ambiguous date: '01/05/2024' (2024-01-05 or 2024-05-01?)",
        ),
        (["backfill", "kcna", "--since", "May 1"], "argument --since: not a date: 'May 1'"),
        (["nosuchcommand"], "argument COMMAND: invalid choice: 'nosuchcommand'"),
    ],
)
def test_a_bad_number_or_argument_is_one_line_and_exit_2(
    argv: list[str], message: str, db: str, capsys
) -> None:
    code, out, err = run([*argv, "--db", db] if argv[0] != "nosuchcommand" else argv, capsys)
    assert code == 2 and out == ""
    assert_one_line(err, message, "--help)")


def test_the_largest_numbers_are_accepted(db: str, capsys) -> None:
    code, out, err = run(["list", "--limit", "1000000000", "--offset", "1", "--db", db], capsys)
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 1


@pytest.mark.parametrize(
    "day", ["2026-03-01", "2026/3/1", "2026.3.1", "1 March 2026", "March 1 2026", "Mar 1, 2026"]
)
def test_since_and_until_take_a_date_as_a_user_writes_it(day: str, db: str, capsys) -> None:
    code, out, err = run(["export", "--since", day, "--until", day, "--db", db], capsys)
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 2  # both stored articles are of 2026-03-01
    code, out, err = run(["export", "--since", "2 March 2026", "--db", db], capsys)
    assert (code, err, out) == (0, "", "")


# -- databases ----------------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path, capsys) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database at all\n" * 20, encoding="utf-8")
    for command in (["list"], ["show", "abc"], ["export"], ["history", "abc"]):
        code, _, err = run([*command, "--db", f"sqlite:///{notes}"], capsys)
        assert code == 1, command
        assert_one_line(err, f"cannot open database sqlite:///{notes}: file is not a database")
    assert notes.read_text(encoding="utf-8") == "not a database at all\n" * 20


@pytest.mark.parametrize(
    "url", ["postgresql://u:secret@127.0.0.1:notaport/x", "postgres://127.0.0.1:5x/x"]
)
def test_a_port_that_is_not_a_number_is_one_line(url: str, capsys) -> None:
    code, _, err = run(["list", "--db", url], capsys)
    assert code == 1
    assert_one_line(err, "invalid database URL", "the port must be a number")
    assert "secret" not in err


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[sources.kcna]\nevery = "99999999999d"\n',
            'sources.kcna.every: "99999999999d" is too long (at most 365d)',
        ),
        ('[database]\nurl = "postgresql://h:notaport/x"\n', "database.url: not a database URL"),
        (
            '[[watch]]\nname = "slow"\nmatch = "(a+)+$"\nnotify = ["log"]\n',
            'watch[0].match: rule "slow": "(a+)+$" can take exponential time',
        ),
    ],
)
@pytest.mark.parametrize("command", [["status"], ["watch", "test", "slow"], ["feed"]])
def test_a_bad_config_is_one_line_and_exit_2(
    toml: str, message: str, command: list[str], db: str, tmp_path: Path, capsys
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml, encoding="utf-8")
    code, _, err = run([*command, "--config", str(config), "--db", db], capsys)
    assert code == 2
    assert_one_line(err, message)


# -- start URLs ---------------------------------------------------------------------------


def test_an_off_host_start_url_is_refused_naming_the_hosts(capsys) -> None:
    code, _, err = run(["crawl", "--start-url", EVIL_START, "--db", "sqlite://"], capsys)
    assert code == 2
    assert_one_line(
        err,
        f"--start-url {EVIL_START}: not on an allowed host (allowed: kcna.kp, kcnawatch.org,"
        " www.kcna.kp, www.kcnawatch.org; a mirror's host with --base-url)",
    )
    code, _, err = run(["crawl", "kcna", "--start-url", EVIL_START, "--db", "sqlite://"], capsys)
    assert code == 2
    assert_one_line(err, "(allowed: kcna.kp, www.kcna.kp;")
    code, _, err = run(["backfill", "kcna", "--start-url", EVIL_START, "--db", "sqlite://"], capsys)
    assert code == 2
    assert_one_line(err, "not on an allowed host")


def test_a_start_url_on_the_mirror_or_the_public_host_is_fine() -> None:
    mirror = "http://mirror.example.org/kcna"
    on_mirror = "http://mirror.example.org/en/article/q/5b0b1c0f8e0f0b7d1e8b4a1c3c1e6a77.kcmsf"
    public = "http://www.kcna.kp/en/article/q/5b0b1c0f8e0f0b7d1e8b4a1c3c1e6a77.kcmsf"
    assert plan(CrawlOptions(start_urls=[on_mirror], base_url=mirror)) == {"kcna": [on_mirror]}
    assert plan(CrawlOptions(start_urls=[public])) == {"kcna": [public]}
    assert plan(CrawlOptions(start_urls=[public], base_url=mirror)) == {"kcna": [public]}
    with pytest.raises(
        OptionError, match=r"allowed: kcna\.kp, kcnawatch\.org, mirror\.example\.org"
    ):
        plan(CrawlOptions(start_urls=[EVIL_START], base_url=mirror))
