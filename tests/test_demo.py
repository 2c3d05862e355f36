"""``kcna-monitor demo``: the demo site publishes, edits, retitles, deletes and brings back
articles on a schedule of kcna runs, and the real daemon records each change, so that
``history`` shows diffs and gone events and ``list --sort first-seen`` shows arrivals.

The schedule is driven run by run without waiting; the end-to-end test lets the daemon (in
this process, crawling in child processes) run a few times against the rebuilt site.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from replica.qpart import path_of
from replica.server import FixtureServer, FixtureSite
from replica.site import BuiltSite, SiteArticle, build_site
from scheduler.daemon.service import Daemon
from scheduler.daemon.supervisor import RunReport
from scheduler.demo import (
    ADDED_SENTENCE,
    HELD_BACK,
    ArchiveIds,
    DemoSite,
    Step,
    changed_sentence,
    changed_title,
    demo_config,
    demo_steps,
)
from tests.cli_helpers import run_main
from tests.test_notify_daemon import running


def status(site: FixtureSite, path: str) -> int:
    return site.answer("GET", path, {}, False).status


def body(site: FixtureSite, path: str) -> str:
    return site.answer("GET", path, {}, False).body.decode("utf-8")


def listings(built: BuiltSite) -> dict[str, str]:
    """Each kcna.kp /q/ category listing's page."""
    return {p: body(built.site, p) for p in built.start_paths_of("kcna") if "/category/" in p}


def test_changes_come_between_publications_on_odd_runs() -> None:
    plan = {run: demo_steps(run) for run in range(1, 13)}
    assert plan == {
        1: ["edit"],
        2: ["publish"],
        3: ["retitle"],
        4: ["publish"],
        5: ["delete"],
        6: ["publish"],
        7: ["restore"],
        8: ["publish"],
        9: [],
        10: ["publish"],
        11: [],
        12: ["publish"],
    }
    assert [run for run in range(1, 10) if "publish" in demo_steps(run, 3)] == [3, 6, 9]
    assert demo_steps(1, 1) == ["edit", "publish"]


def test_an_edit_changes_one_sentence_and_a_retitle_the_title() -> None:
    text = "Pyongyang -- Letters came from different countries.\nThey were warm."
    assert changed_sentence(text) == (
        "Pyongyang -- Letters came from various countries.\nThey were warm."
    )
    plain = "Pyongyang -- A plain report.\nSecond paragraph."
    assert changed_sentence(plain) == (
        f"Pyongyang -- A plain report. {ADDED_SENTENCE}\nSecond paragraph."
    )
    assert changed_title("Floral Baskets from Abroad") == "Floral Baskets"
    assert changed_title("Press Review") == "Update: Press Review"


def test_held_back_articles_leave_no_listing_empty() -> None:
    for hold_back in (2, HELD_BACK, 10):
        built = build_site(hold_back=hold_back)
        assert len(built.held_back) == hold_back
        for path, page in listings(built).items():
            assert "<li>" in page, f"{path} lists nothing (hold_back={hold_back})"


def test_the_demo_site_changes_run_by_run() -> None:
    built = build_site(hold_back=HELD_BACK)
    lines: list[str] = []
    demo = DemoSite(built, say=lines.append, find_id=lambda a: "id-" + a.title[:5])
    edited, retitled, deleted = (demo.targets[s] for s in ("edit", "retitle", "delete"))
    assert len({id(a) for a in (edited, retitled, deleted)}) == 3
    assert all(url.startswith("http://www.kcna.kp/") for url in edited.urls | deleted.urls)
    old_title, pages = retitled.title, {path_of(u) for u in deleted.urls}

    demo.after_run(RunReport(source="kcnawatch", run=None, seconds=1.0, error=None))
    assert demo.runs == 0 and lines == []  # only the changed source's runs count

    demo.next_run()
    assert lines == [
        f"demo: edited a sentence of {edited.title!r}"
        f" (kcna-monitor history id-{edited.title[:5]} to see it)"
    ]
    shown = body(built.site, path_of(min(edited.urls)))
    assert "various countries" in shown and "different countries" not in shown

    for _ in range(4):
        demo.next_run()
    assert lines[2] == (
        f"demo: retitled {old_title!r} as {retitled.title!r}"
        f" (kcna-monitor history id-{retitled.title[:5]} to see it)"
    )
    assert lines[4].startswith(f"demo: deleted {deleted.title!r}: its page answers 404")
    assert {status(built.site, path) for path in pages} == {404}
    assert not any(path in page for page in listings(built).values() for path in pages)
    assert all("<li>" in page for page in listings(built).values())
    assert built.q_part is not None
    entries = [entry for listed in built.q_part.listings.values() for entry in listed]
    assert any(title == retitled.title for _, title, _ in entries)
    assert not any(title == old_title for _, title, _ in entries)

    for _ in range(7):
        demo.next_run()
    assert lines[6].startswith(f"demo: brought {deleted.title!r} back")
    assert {status(built.site, path) for path in pages} == {200}
    assert all(any(path in page for page in listings(built).values()) for path in pages)
    published = [line for line in lines if line.startswith("demo: published ")]
    assert len(published) == HELD_BACK and published[-1].endswith("(0 more to come)")
    assert built.held_back == []
    assert lines[-1].startswith("demo: every article is published and every change made")
    demo.next_run()
    demo.next_run()
    assert sum(line.startswith("demo: every article") for line in lines) == 1


def test_a_change_names_the_url_while_the_article_is_not_stored() -> None:
    built = build_site(hold_back=HELD_BACK)
    lines: list[str] = []
    DemoSite(built, say=lines.append).next_run()
    [line] = lines
    assert line.endswith(" (at http://www.kcna.kp/en/article/q/" + line.split("/q/")[1])


# -- end to end ---------------------------------------------------------------------------

#: A short schedule: every change within three runs.
SHORT: dict[int, Sequence[Step]] = {1: ["edit", "delete", "publish"], 2: ["retitle", "restore"]}


@pytest.fixture
def built() -> BuiltSite:
    return build_site(hold_back=2)


@pytest.fixture
def server(built: BuiltSite) -> Iterator[FixtureServer]:
    with FixtureServer(built.site) as serving:
        yield serving


def history(db_url: str, article: SiteArticle, ids: ArchiveIds) -> str:
    found = ids(article)
    assert found is not None, f"not stored: {article.title}"
    shown = run_main("history", found, "--db", db_url, env={})
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


@pytest.mark.e2e
def test_the_daemon_records_the_demo_sites_changes(
    built: BuiltSite, server: FixtureServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    config = demo_config(built, server.url, timedelta(seconds=1), db_url)
    config.sources["kcnawatch"] = config.sources["kcnawatch"].model_copy(update={"enabled": False})
    ids = ArchiveIds(db_url)
    lines: list[str] = []
    demo = DemoSite(built, say=lines.append, steps=lambda run: SHORT.get(run, ()), find_id=ids)
    reports: queue.Queue[RunReport] = queue.Queue()

    def on_run(report: RunReport) -> None:
        demo.after_run(report)
        reports.put(report)

    try:
        with running(Daemon(config, db_url=db_url, on_run=on_run)):
            for _ in range(3):
                report = reports.get(timeout=120)
                assert report.status == "ok", report.error
        edited, retitled, deleted = (demo.targets[s] for s in ("edit", "retitle", "delete"))
        assert [line.split(" ")[1] for line in lines] == [
            "edited", "deleted", "published", "retitled", "brought",
        ]  # fmt: skip

        text = history(db_url, edited, ids)
        assert "edited (version 2)" in text and "+++ version 2 text" in text
        assert "various countries" in text
        title = history(db_url, retitled, ids)
        assert f"+{retitled.title}" in title and "+++ version 2 title" in title
        gone = history(db_url, deleted, ids)
        assert "  gone" in gone and "  back" in gone and "1 version" in gone

        arrivals = run_main("list", "--sort", "first-seen", "--db", db_url, env={})
        assert arrivals.stdout.splitlines()[0].endswith(built.articles[-1].title)
    finally:
        ids.close()
    logged = capfd.readouterr().err
    assert "has no entries" not in logged and "WARNING" not in logged, logged
