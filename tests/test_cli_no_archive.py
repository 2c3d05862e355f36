"""Commands that only read never create an archive: on a database that is not there (an SQLite
file or folder that does not exist, an empty file, a database never migrated) they say so in
one line and exit 1, creating nothing. Commands that write create it; ``list`` on an empty
archive says that it is empty."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from scheduler.cli.main import main
from storage.db import alembic_config, make_engine, open_existing
from storage.errors import ArchiveMissing
from storage.repository import Repository
from tests.storage_helpers import make_item

HINT = "— run kcna-monitor crawl or kcna-monitor demo first"
READING = [
    ["list"],
    ["show", "abc"],
    ["export"],
    ["export", "-o", "{tmp}/out.jsonl"],
    ["history", "abc"],
    ["status"],
    ["feed"],
    ["feed", "-o", "{tmp}/feed.atom"],
    ["serve", "--port", "0"],
    ["watch", "test", "missiles"],
    ["search", "missiles"],
    ["reindex"],
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture(autouse=True)
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No configuration file, no default database; the logging ``serve`` sets up undone."""
    for name in ("KCNA_MONITOR_DB", "KCNA_MONITOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def files_under(folder: Path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(root, name), folder)
        for root, dirs, files in os.walk(folder)
        for name in dirs + files
    )


@pytest.mark.parametrize("argv", READING, ids=" ".join)
def test_a_reading_command_on_a_missing_path_creates_nothing(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "typo" / "dir" / "x.db"
    before = files_under(tmp_path)
    argv = [part.format(tmp=tmp_path) for part in argv]
    code, out, err = run([*argv, "--db", f"sqlite:///{path}"], capsys)
    assert (code, out) == (1, "")
    assert err == f"kcna-monitor: error: no archive at {path} {HINT}\n"
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("argv", [["list"], ["status"], ["feed"]], ids=" ".join)
def test_an_empty_file_is_no_archive_and_stays_empty(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    code, _, err = run([*argv, "--db", f"sqlite:///{path}"], capsys)
    assert code == 1
    assert err == f"kcna-monitor: error: no archive at {path} {HINT}\n"
    assert path.stat().st_size == 0 and files_under(tmp_path) == ["empty.db"]


def test_a_database_never_migrated_is_no_archive(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite: a file that does not exist; PostgreSQL: a database (here a schema) that exists
    but was never migrated. Both stay as they were."""
    code, _, err = run(["export", "--db", db_url], capsys)
    assert code == 1
    assert err.startswith("kcna-monitor: error: no archive at ") and err.endswith(f"{HINT}\n")
    assert err.count("\n") == 1 and "password" not in err
    if db_url.startswith("sqlite"):
        assert files_under(tmp_path) == []
    else:
        engine = make_engine(db_url)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_open_existing_creates_nothing_and_opens_an_archive(
    tmp_path: Path, migrated_sqlite: str
) -> None:
    missing = tmp_path / "no" / "such.db"
    with pytest.raises(ArchiveMissing, match=f"^no archive at {missing}$") as raised:
        open_existing(f"sqlite:///{missing}")
    assert raised.value.where == str(missing)
    assert not (tmp_path / "no").exists()
    engine = open_existing(migrated_sqlite)
    try:
        assert Repository(engine).articles.count() == 0
    finally:
        engine.dispose()
    with pytest.raises(ArchiveMissing, match=r"^no archive at sqlite://$"):
        open_existing("sqlite://")


def test_an_archive_of_an_older_version_is_read_after_its_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Opening it is all a reading command writes: the schema brought to this version's."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    code, out, err = run(["list", "--db", url], capsys)
    assert (code, out) == (0, "")
    assert err == "no articles stored yet — run kcna-monitor crawl or kcna-monitor demo\n"
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    assert revision == ScriptDirectory.from_config(config).get_current_head()


def test_a_writing_command_creates_the_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new" / "archive.db"
    code, out, _ = run(["recheck", "--db", f"sqlite:///{path}"], capsys)
    assert (code, out) == (0, "no stored articles to recheck\n")
    assert path.is_file()
    code, _, err = run(["list", "--db", f"sqlite:///{path}"], capsys)
    assert code == 0 and "no articles stored yet" in err


def test_list_says_why_it_lists_nothing(
    migrated_sqlite: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["list", "--db", migrated_sqlite], capsys)
    assert (code, out) == (0, "")
    assert err == "no articles stored yet — run kcna-monitor crawl or kcna-monitor demo\n"

    engine = make_engine(migrated_sqlite)
    Repository(engine).articles.save([make_item(1), make_item(2)])
    engine.dispose()
    code, out, err = run(["list", "--db", migrated_sqlite], capsys)
    assert code == 0 and len(out.splitlines()) == 2 and err == ""
    code, out, err = run(["list", "--source", "Nope", "--db", migrated_sqlite], capsys)
    assert (code, out) == (0, "")
    assert err == 'no stored articles from source "Nope" (2 stored in all)\n'
    code, out, err = run(["list", "--offset", "5", "--db", migrated_sqlite], capsys)
    assert err == "no stored articles past the first 5 (2 stored in all)\n"
