"""End to end through the real daemon: a watch rule posts to a webhook on 127.0.0.1 once per
matching article, once more when one is edited, once when one is gone, and never twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from replica.render import kcna
from replica.server import FixtureServer
from replica.site import BuiltSite, build_site
from tests.monitor_helpers import WebhookReceiver, webhook_receiver
from tests.test_daemon_e2e import OK_LINE, Daemon, repository, source_toml, write_config

pytestmark = pytest.mark.e2e

RULE = "Kim Jong Un"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        running.start()
        yield running


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.kill()


@pytest.fixture
def built() -> BuiltSite:
    return build_site()


@pytest.fixture
def server(built: BuiltSite) -> Iterator[FixtureServer]:
    with FixtureServer(built.site) as running:
        yield running


def test_a_watch_rule_notifies_each_matching_article_edit_and_deletion_once(
    server: FixtureServer,
    built: BuiltSite,
    receiver: WebhookReceiver,
    tmp_path: Path,
    daemons: list[Daemon],
) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    # Revisit every stored article on every run (the fixture articles are from 2024).
    revisit = "KCNA_MONITOR_REVISIT_DAYS = 100000\nKCNA_MONITOR_REVISIT_EVERY = 0\n"
    config = write_config(tmp_path, db_url, source_toml("kcna", server, built))
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[sources.kcna.settings]\n", "[sources.kcna.settings]\n" + revisit
        )
        + f'\n[[watch]]\nname = "leader"\nmatch = "{RULE}"\nsources = ["kcna"]\n'
        f'notify = ["webhook:{receiver.url}"]\nmax_age = false\n',
        encoding="utf-8",
    )
    daemon = Daemon(config, tmp_path)
    daemons.append(daemon)
    daemon.wait_for(OK_LINE, timeout=90)

    matching = {
        a.id: a
        for a in repository(db_url).articles.iterate()
        if RULE.lower() in (a.title + "\n" + a.text).lower()
    }
    assert matching
    posts = receiver.wait_for(len(matching))
    assert sorted(p["article_id"] for p in posts) == sorted(matching)
    assert {p["event"] for p in posts} == {"new"} and {p["rule"] for p in posts} == {"leader"}

    # An edit of a matching article: one more notification, for its second version.
    record = next(r for r in built.detail_records if RULE in r["text"])
    edited = {**record, "text": record["text"].replace("\n", "\nA sentence added later.\n", 1)}
    built.site.put(kcna.detail_path(edited), kcna.render_detail_article(edited))
    posts = receiver.wait_for(len(matching) + 1)
    [edit] = posts[len(matching) :]
    assert (edit["event"], edit["version"]) == ("edited", 2)

    # A matching article deleted from the site: gone, notified once.
    removed = next(
        r for r in built.detail_records if RULE in r["text"] and r["title"] != record["title"]
    )
    built.site.remove(kcna.detail_path(removed))
    posts = receiver.wait_for(len(matching) + 2)
    assert posts[-1]["event"] == "gone"

    # More runs: nothing is notified twice.
    for _ in range(2):
        daemon.wait_for(OK_LINE, timeout=60)
    assert len(receiver.received) == len(matching) + 2
    assert daemon.stop() == 0
