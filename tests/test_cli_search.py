"""``kcna-monitor search`` and ``reindex``: output in a terminal and piped, JSON, filters,
errors."""

from __future__ import annotations

import io
import json

import pytest

from scheduler.cli.main import main
from storage.db import make_engine
from storage.repository import Repository
from tests.cli_helpers import run_main
from tests.storage_helpers import DAY, T0, make_item


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def archive(migrated_sqlite: str) -> str:
    engine = make_engine(migrated_sqlite)
    repo = Repository(engine)
    repo.articles.save(
        [
            make_item(
                1,
                title="Kim Jong Un Inspects Nuclear Weapons Institute",
                text="Respected Comrade Kim Jong Un stressed the nuclear deterrent.",
                categories=("Top News",),
            ),
            make_item(
                2,
                title="Peace on the Peninsula",
                text="A commentary on peace. The missile launch was a warning.",
                published=None,
                seen_at=T0 + DAY,
            ),
        ]
    )
    repo.articles.save(
        [
            make_item(
                2,
                title="Peace on the Peninsula",
                text="A commentary on peace.",
                published=None,
                seen_at=T0 + 2 * DAY,
            )
        ]
    )
    engine.dispose()
    return migrated_sqlite


def test_piped_output_is_plain(archive: str) -> None:
    done = run_main("search", "nuclear deterrent", "--db", archive, env={})
    assert done.returncode == 0, done.stderr
    first, snippet = done.stdout.splitlines()
    assert first.endswith(
        "2026-03-01  KCNA.kp (En)    Kim Jong Un Inspects Nuclear Weapons Institute"
    )
    assert snippet.startswith("    ") and "the nuclear deterrent." in snippet
    assert "\x1b" not in done.stdout and "\x02" not in done.stdout
    assert done.stderr == "1-1 of 1 matching articles\n"


def test_a_terminal_shows_hits_in_bold(archive: str) -> None:
    out = Terminal()
    assert main(["search", "deterrent", "--db", archive], out=out) == 0
    assert "the nuclear \x1b[1mdeterrent\x1b[0m." in out.getvalue()


def test_json_and_versions(archive: str) -> None:
    done = run_main("search", "missile", "--in-versions", "--json", "--db", archive, env={})
    document = json.loads(done.stdout)
    assert document["total"] == 1 and document["query"] == "missile"
    (hit,) = document["results"]
    assert hit["published"] is None and hit["versions"] == 2 and hit["matched_version"] == 1
    assert hit["hits"] == ["missile"] and "\x02" not in hit["snippet"]
    assert "missile launch" in hit["snippet"]
    assert (
        json.loads(run_main("search", "missile", "--json", "--db", archive, env={}).stdout)[
            "results"
        ]
        == []
    )
    text = run_main("search", "missile", "--in-versions", "--db", archive, env={}).stdout
    assert "Peace on the Peninsula [v1]" in text.splitlines()[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--category", "Top News"], 1),
        (["--category", "Juche"], 0),
        (["--edited"], 1),
        (["--since", "2026-01-01"], 1),
        (["--first-seen-since", "2026-03-02"], 1),
        (["--gone"], 0),
        (["--sort", "first-seen", "--limit", "1", "--offset", "1"], 2),
    ],
)
def test_filters(archive: str, argv: list[str], expected: int) -> None:
    done = run_main("search", "peace OR nuclear", *argv, "--json", "--db", archive, env={})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"Kim Jong', "unbalanced quote"),
        ("-war", "nothing to search for"),
        ("peace OR", "OR needs a word"),
    ],
)
def test_a_malformed_query_is_one_line_and_exit_2(archive: str, query: str, message: str) -> None:
    done = run_main("search", "--db", archive, "--", query, env={})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("kcna-monitor: error: bad search query: ")
    assert message in done.stderr and done.stderr.count("\n") == 1


def test_exclusion_inside_the_quoted_query(archive: str) -> None:
    done = run_main("search", "peace -missile", "--in-versions", "--json", "--db", archive, env={})
    assert json.loads(done.stdout)["results"][0]["matched_version"] == 2


def test_reindex(archive: str) -> None:
    done = run_main("reindex", "--db", archive, env={})
    assert (done.returncode, done.stdout) == (
        0,
        "rebuilt the search index: 2 articles, 3 versions\n",
    )
    assert "deterrent" in run_main("search", "deterrent", "--db", archive, env={}).stdout
