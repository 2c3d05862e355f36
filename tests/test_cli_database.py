"""Every command opens the same database: with only ``$KCNA_MONITOR_CONFIG`` set, naming a file
whose ``[database] url`` is an archive, every command that reads reads that archive, never the
default file (``status`` once read the configured database while ``list`` read the default)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.config import resolve_db
from scheduler.configtypes import ConfigError
from storage.db import make_engine
from storage.repository import Repository
from tests.storage_helpers import copy_of, make_item

TITLE = "Missile launch reported"


@pytest.fixture
def article_id(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The one article of the archive the configuration names (a path relative to the file)."""
    config = tmp_path / "etc" / "config.toml"
    config.parent.mkdir()
    config.write_text(
        '[database]\nurl = "sqlite:///configured.db"\n\n'
        '[[watch]]\nname = "missiles"\nmatch = "missile"\nnotify = ["log"]\n',
        encoding="utf-8",
    )
    for name in ("KCNA_MONITOR_DB", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the default file's folder
    monkeypatch.setenv("KCNA_MONITOR_CONFIG", str(config))
    engine = make_engine(copy_of(sqlite_template, tmp_path / "etc" / "configured.db"))
    [saved] = Repository(engine).articles.save(
        [make_item(1, title=TITLE, text="Pyongyang -- A missile was fired. -0-")]
    )
    engine.dispose()
    return saved.article_id


@pytest.mark.parametrize(
    ("command", "shows"),
    [
        (["status"], "articles   1 stored"),
        (["list"], "{id}"),
        (["list", "--sort", "first-seen"], "{id}"),
        (["show", "{id}"], TITLE),
        (["export"], "{id}"),
        (["history", "{id}"], TITLE),
        (["feed"], TITLE),
        (["watch", "test", "missiles"], "{id}"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_each_reading_command_reads_the_configured_database(
    article_id: str, tmp_path: Path, command: list[str], shows: str
) -> None:
    out = io.StringIO()
    assert main([part.format(id=article_id) for part in command], out=out) == 0
    assert shows.format(id=article_id) in out.getvalue()
    assert not (tmp_path / "data" / "kcna-monitor" / "kcna-monitor.db").exists()


def test_the_configuration_is_read_only_when_it_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--db`` and ``$KCNA_MONITOR_DB`` come first; a crawl the daemon starts with ``--db``
    never reads a configuration file."""
    monkeypatch.delenv("KCNA_MONITOR_DB", raising=False)
    monkeypatch.setenv("KCNA_MONITOR_CONFIG", str(tmp_path / "missing.toml"))
    assert resolve_db("sqlite:////srv/cli.db") == "sqlite:////srv/cli.db"
    monkeypatch.setenv("KCNA_MONITOR_DB", "sqlite:////srv/env.db")
    assert resolve_db(None) == "sqlite:////srv/env.db"
    monkeypatch.delenv("KCNA_MONITOR_DB")
    with pytest.raises(ConfigError, match=r"missing\.toml does not exist"):
        resolve_db(None)
