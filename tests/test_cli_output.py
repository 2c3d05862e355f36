"""What leaves through the command line never carries a raw control character: an archive
written before titles and texts were cleaned may hold escape sequences, bells and
backspaces, and ``list``, ``show``, ``history``, ``search``, ``watch test``, ``status``,
``feed`` and ``export`` must not pass them to a terminal or a CSV file. Terminal text and CSV show
U+FFFD in their place; JSON and XML escape them and so keep the stored text exactly."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import text as sql

from scheduler.cli.main import main
from scheduler.export import REPLACEMENT, json_text, printable, xml_text
from storage.db import make_engine
from storage.repository import Repository
from tests.storage_helpers import T0, make_item

#: Every control character a terminal acts on: C0 (but newline and tab), DEL, C1.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
NASTY_TITLE = "Red \x1b[31malert\x1b[0m missile\x07 test\x08\x08\x9b2J"
NASTY_TEXT = "Pyongyang -- A missile\x1b]0;owned\x07 was \x9b31mfired\x08.\nSecond\tline \x1b[2J."


@pytest.fixture
def archive(migrated_sqlite: str) -> tuple[str, str]:
    """A SQLite archive whose one article has control characters in its stored title and
    text (both versions, and a failed run's error), as written before they were cleaned."""
    url = migrated_sqlite
    engine = make_engine(url)
    repo = Repository(engine)
    repo.articles.save([make_item(1, text="A missile was fired.")])
    repo.articles.save(
        [make_item(1, text="A missile was fired twice.", seen_at=T0.replace(hour=13))]
    )
    run = repo.runs.start("kcna", T0)
    repo.runs.finish(
        run,
        finished_at=T0,
        status="failed",
        pages=0,
        new=0,
        changed=0,
        unchanged=0,
        failures=1,
        error="HTTP 503 \x1b[5mblink\x1b[0m",
    )
    with engine.begin() as connection:
        for table in ("articles", "article_versions"):
            connection.execute(
                sql(f"UPDATE {table} SET title = :title, text = :text"),
                {"title": NASTY_TITLE, "text": NASTY_TEXT},
            )
    [article] = repo.articles.newest(limit=1)
    engine.dispose()
    return url, article.id


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[watch]]\nname = "missiles"\nmatch = "missile"\nnotify = ["log"]\n', encoding="utf-8"
    )
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    err = capsys.readouterr().err
    assert code == 0, err
    return out.getvalue(), err


def assert_clean(text: str) -> None:
    assert not RAW_CONTROL.search(text), repr(RAW_CONTROL.findall(text))


def test_the_shared_functions() -> None:
    assert printable("a\x1b[31mb\x07c\x08d\x9be\x7ff\x00g\r\n\th") == (
        f"a{REPLACEMENT}[31mb{REPLACEMENT}c{REPLACEMENT}d{REPLACEMENT}e{REPLACEMENT}f"
        f"{REPLACEMENT}g{REPLACEMENT}\n\th"
    )
    assert printable("Korea’s «news» — 조선") == "Korea’s «news» — 조선"
    assert json.loads(json_text(json.dumps(NASTY_TEXT, ensure_ascii=False))) == NASTY_TEXT
    assert json_text('"\x9b\x7f"') == '"\\u009b\\u007f"'
    assert xml_text("<t>\x9b</t>") == "<t>&#x9b;</t>"


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["show", "{id}"],
        ["history", "{id}"],
        ["search", "missile"],
        ["search", "second line", "--in-versions"],
        ["watch", "test", "missiles", "--config", "{config}"],
        ["status", "--config", "{config}"],
    ],
)
def test_terminal_text_shows_control_characters_as_replacement_characters(
    command: list[str], archive: tuple[str, str], config: Path, capsys
) -> None:
    db, article_id = archive
    argv = [part.format(id=article_id, config=config) for part in command]
    out, err = run([*argv, "--db", db], capsys)
    assert_clean(out)
    assert_clean(err)
    assert REPLACEMENT in out
    if command[0] != "status":
        assert f"Red {REPLACEMENT}[31malert{REPLACEMENT}[0m missile{REPLACEMENT}" in out
    else:
        assert f"HTTP 503 {REPLACEMENT}[5mblink{REPLACEMENT}[0m" in out


def test_show_keeps_newlines_and_tabs_of_the_text(archive: tuple[str, str], capsys) -> None:
    db, article_id = archive
    out, _ = run(["show", article_id, "--db", db], capsys)
    assert printable(NASTY_TEXT) in out
    assert "\nSecond\tline " in out


@pytest.mark.parametrize(
    "command",
    [
        ["export"],
        ["export", "--all-versions"],
        ["show", "{id}", "--json"],
        ["history", "{id}", "--json"],
        ["status", "--json", "--config", "{config}"],
    ],
)
def test_json_escapes_control_characters_and_keeps_the_text(
    command: list[str], archive: tuple[str, str], config: Path, capsys
) -> None:
    db, article_id = archive
    argv = [part.format(id=article_id, config=config) for part in command]
    out, _ = run([*argv, "--db", db], capsys)
    assert_clean(out)
    if command[0] == "status":
        report = json.loads(out)
        assert report["sources"]["kcna"]["last_run"]["error"] == "HTTP 503 \x1b[5mblink\x1b[0m"
        return
    records = [json.loads(line) for line in out.splitlines()] if command[0] != "history" else []
    record = records[0] if records else json.loads(out)
    assert record["title"] == NASTY_TITLE
    if command[0] == "history":
        assert [v["text"] for v in record["versions"]] == [NASTY_TEXT, NASTY_TEXT]
    else:
        assert record["text"] == NASTY_TEXT


def test_csv_cells_show_control_characters_as_replacement_characters(
    archive: tuple[str, str], tmp_path: Path, capsys
) -> None:
    db, _ = archive
    out, _ = run(["export", "--format", "csv", "--db", db], capsys)
    target = tmp_path / "out.csv"
    run(["export", "--format", "csv", "-o", str(target), "--db", db], capsys)
    for written in (out, target.read_text(encoding="utf-8")):
        assert_clean(written)
        [row] = list(csv.DictReader(io.StringIO(written)))
        assert row["title"] == printable(NASTY_TITLE)
        assert row["text"] == printable(NASTY_TEXT)


def test_the_feed_writes_c1_characters_as_references(
    archive: tuple[str, str], config: Path, tmp_path: Path, capsys
) -> None:
    db, _ = archive
    out, _ = run(["feed", "--config", str(config), "--db", db], capsys)
    target = tmp_path / "feed.atom"
    run(["feed", "-o", str(target), "--config", str(config), "--db", db], capsys)
    for written in (out, target.read_text(encoding="utf-8")):
        assert_clean(written)
        assert "&#x9b;" in written
        ET.fromstring(written)
