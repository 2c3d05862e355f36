"""Atom feeds of new and changed articles, overall and per watch rule: valid Atom, text
escaped; and the ``feed`` and ``watch test`` commands."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.monitor.feed import build_feed
from scheduler.monitor.outbox import Monitor
from storage.db import make_engine
from storage.repository import Repository
from tests.monitor_helpers import Clock, monitoring
from tests.storage_helpers import HOUR, T0, make_item

A = "{http://www.w3.org/2005/Atom}"
HOSTILE = (
    "Pyongyang, March 1 (KCNA) -- A missile <script>alert('x')</script> & "
    "<img src=x onerror=alert(1)>\x07 was fired."
)
RULES = [{"name": "missiles", "match": "missile"}]


def parse(document: bytes) -> ET.Element:
    root = ET.fromstring(document)
    assert root.tag == f"{A}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{A}{required}") is not None, required
    for entry in root.findall(f"{A}entry"):
        for required in ("id", "title", "updated", "link", "content"):
            assert entry.find(f"{A}{required}") is not None, required
    return root


def test_the_feed_is_atom_and_its_text_is_escaped(repo: Repository) -> None:
    clock = Clock(T0)
    repo.articles.save([make_item(1, title="Missile <b>test</b>", text=HOSTILE), make_item(2)])
    clock.advance(HOUR)
    repo.articles.save([make_item(2, title="An edited title", seen_at=clock())])
    document = build_feed(repo, now=clock(), self_url="http://h/feed.atom")
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b"<script>" not in document and b"<img" not in document and b"<b>" not in document
    assert b"&lt;script&gt;alert('x')&lt;/script&gt; &amp;" in document
    root = parse(document)
    entries = root.findall(f"{A}entry")
    titles = [e.findtext(f"{A}title") for e in entries]
    assert titles[0] == "[edited, version 2] An edited title"
    assert sorted(titles[1:]) == sorted(["Missile <b>test</b>", make_item(2).title])
    hostile = entries[titles.index("Missile <b>test</b>")]
    content = hostile.find(f"{A}content")
    assert content is not None and content.get("type") == "text"
    assert content.text == HOSTILE.replace("\x07", "")  # read back as text, never as markup
    assert hostile.find(f"{A}link").get("href") == make_item(1).url  # type: ignore[union-attr]
    assert hostile.findtext(f"{A}published") == "2026-03-01T00:00:00+09:00"
    assert root.find(f"{A}link").get("rel") == "self"  # type: ignore[union-attr]
    assert root.findtext(f"{A}updated") == (T0 + HOUR).isoformat()
    assert len({e.findtext(f"{A}id") for e in entries}) == 3


def test_a_rule_feed_lists_what_the_rule_matched(repo: Repository) -> None:
    clock = Clock(T0)
    rules = monitoring([*RULES, {"name": "nothing", "match": "no such words"}]).watch
    watcher = Monitor(repo, monitoring(RULES), sources=[], clock=clock)
    repo.articles.save([make_item(1, text=HOSTILE), make_item(2)])
    watcher.evaluate()
    root = parse(build_feed(repo, now=clock(), rule=rules[0]))
    (entry,) = root.findall(f"{A}entry")
    assert root.findtext(f"{A}title") == "kcna-monitor: watch rule missiles"
    assert "missile <script>" in (entry.findtext(f"{A}summary") or "")
    empty = parse(build_feed(repo, now=clock(), rule=rules[1]))
    assert empty.findall(f"{A}entry") == [] and empty.findtext(f"{A}updated") == T0.isoformat()


def test_a_new_rule_feed_lists_the_stored_articles_it_matches_then_their_changes(
    repo: Repository,
) -> None:
    """A rule added after the articles were stored is not empty: it lists what ``watch
    test`` finds, then the edits and disappearances it matched, newest first, each once."""
    clock = Clock(T0)
    missile = "Pyongyang, March 1 (KCNA) -- A missile was fired."
    repo.articles.save(
        [make_item(n, text=missile.replace("A missile", f"Missile {n}")) for n in (1, 2, 3)]
        + [make_item(4)]
    )
    (rule,) = monitoring(RULES).watch

    def entries(limit: int = 50) -> list[tuple[str, str]]:
        root = parse(build_feed(repo, now=clock(), rule=rule, limit=limit))
        return [
            (e.findtext(f"{A}title") or "", e.findtext(f"{A}updated") or "")
            for e in root.findall(f"{A}entry")
        ]

    before = entries()
    assert sorted(title for title, _ in before) == [make_item(n).title for n in (1, 2, 3)]
    assert len(entries(limit=2)) == 2

    # The rule is evaluated from now on: an edit and a disappearance are recorded.
    watcher = Monitor(repo, monitoring(RULES), sources=[], clock=clock)
    watcher.evaluate()
    clock.advance(HOUR)
    edited = make_item(2, title="Missile 2, revised", text=missile + " Twice.", seen_at=clock())
    repo.articles.save([edited])
    watcher.evaluate()
    clock.advance(HOUR)
    repo.crawl_state.mark_gone([make_item(3).url], at=clock(), reason="HTTP 404")
    watcher.evaluate()

    after = entries()
    titles = [title for title, _ in after]
    assert titles[:2] == [f"[gone] {make_item(3).title}", "[edited, version 2] Missile 2, revised"]
    assert sorted(titles[2:]) == sorted([make_item(1).title, make_item(3).title])
    assert after[0][1] == (T0 + 2 * HOUR).isoformat()
    assert after[1][1] == (T0 + HOUR).isoformat()
    assert [t for t, _ in entries(limit=3)] == titles[:3]  # newest first, then cut


@pytest.fixture
def archive(migrated_sqlite: str) -> str:
    url = migrated_sqlite
    engine = make_engine(url)
    repo = Repository(engine)
    repo.articles.save([make_item(1, title="ICBM launch", text=HOSTILE), make_item(2)])
    Monitor(repo, monitoring(RULES), sources=[], clock=Clock(T0)).evaluate()
    engine.dispose()
    return url


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[watch]]\nname = "missiles"\nmatch = "missile|ICBM"\nnotify = ["log"]\n\n'
        '[[watch]]\nname = "sowing"\nmatch = "sowing"\nsources = ["kcnawatch"]\n',
        encoding="utf-8",
    )
    return path


def test_the_feed_command_writes_a_file(
    archive: str, config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "missiles.atom"
    target.parent.mkdir()
    argv = ["feed", "--db", archive, "--config", str(config_file), "-o", str(target)]
    assert main([*argv, "--rule", "missiles"]) == 0
    (entry,) = parse(target.read_bytes()).findall(f"{A}entry")
    assert entry.findtext(f"{A}title") == "ICBM launch"
    assert f"wrote the feed to {target}" in capsys.readouterr().err

    out = io.StringIO()
    assert main(["feed", "--db", archive, "--config", str(config_file)], out=out) == 0
    assert len(parse(out.getvalue().encode()).findall(f"{A}entry")) == 2

    assert main([*argv, "--rule", "nope"]) == 2
    assert capsys.readouterr().err.strip() == (
        'kcna-monitor: error: no watch rule named "nope" (rules: missiles, sowing)'
    )


def test_the_feed_of_a_rule_never_evaluated_lists_what_watch_test_finds(
    archive: str, tmp_path: Path
) -> None:
    config = tmp_path / "later.toml"
    config.write_text('[[watch]]\nname = "people"\nmatch = "working people"\n', encoding="utf-8")
    common = ["--db", archive, "--config", str(config)]
    found, feed = io.StringIO(), io.StringIO()
    assert main(["watch", "test", "people", *common], out=found) == 0
    assert main(["feed", "--rule", "people", *common], out=feed) == 0
    (entry,) = parse(feed.getvalue().encode()).findall(f"{A}entry")
    assert found.getvalue().splitlines()[0].endswith(entry.findtext(f"{A}title") or "?")
    assert entry.findtext(f"{A}title") == make_item(2).title


def test_watch_test_lists_the_stored_articles_a_rule_matches(
    archive: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    argv = ["watch", "test", "missiles", "--db", archive, "--config", str(config_file)]
    assert main(argv, out=out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].endswith("2026-03-01  ICBM launch")
    assert lines[1].startswith("    Pyongyang, March 1 (KCNA) -- A missile <script>")
    assert capsys.readouterr().err.strip() == '1 stored articles match watch rule "missiles"'

    out = io.StringIO()  # the rule's sources: nothing was seen on KCNA Watch
    sowing = ["watch", "test", "sowing", "--db", archive, "--config", str(config_file)]
    assert main(sowing, out=out) == 0 and out.getvalue() == ""


def test_a_bad_rule_in_the_config_is_one_line_and_exit_2(
    archive: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[watch]]\nname = "x"\nmatch = "(missile"\n', encoding="utf-8")
    assert main(["watch", "test", "x", "--db", archive, "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith('kcna-monitor: error: watch[0].match: bad regular expression "(missile"')
