"""``kcna-monitor demo``: the daemon at work on the bundled copy of the sites, offline.

Serves :func:`replica.site.build_site` on 127.0.0.1 with a few kcna.kp articles held back,
and runs the daemon against it on a short interval (the same daemon, crawling in child
processes, as ``kcna-monitor run``). After kcna runs the demo site changes as the real one
does (:func:`demo_steps`): it publishes a held-back article every few runs and, in between,
edits a sentence of a published article, retitles another, deletes a third (its page answers
404) and brings that one back. Each change is one line naming the article's id, for
``kcna-monitor history ID``. The demo's sources revisit every stored article on every run
(the bundled articles are dated years back), so the daemon notices edits and deletions on
its next run, as it would on the real site within a day. It writes to a demo database of its
own, never to the user's archive.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Literal, TextIO

from crawler.settings import data_dir
from crawler.sources import SOURCES
from replica.server import FixtureServer
from replica.site import BuiltSite, SiteArticle, build_site
from scheduler.config import Config
from scheduler.configtypes import ConfigError, format_duration, parse_duration
from scheduler.daemon.service import Daemon
from scheduler.daemon.settings import DaemonConfig, SourceConfig
from scheduler.daemon.supervisor import RunReport
from scheduler.logs import setup_logging
from storage.db import StorageError, display_url, make_engine
from storage.repository import Repository

#: Articles kept back at the start, published one by one.
HELD_BACK = 6
#: Scrapy settings for a local site: no politeness pauses, no slow retries; and revisits of
#: every stored article (however old: 100 years count as young) on every run.
LOCAL_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "KCNA_MONITOR_RETRY_BACKOFF": 0,
    "RETRY_TIMES": 1,
    "KCNA_MONITOR_MAX_PAGES": 5,
    "KCNA_MONITOR_REVISIT_DAYS": 36500,
    "KCNA_MONITOR_REVISIT_EVERY": 0,
}
#: The source whose site the demo changes: its runs count.
CHANGED_SOURCE = "kcna"

Step = Literal["publish", "edit", "retitle", "delete", "restore"]
#: The changes made to published articles, one after each odd-numbered run (1, 3, 5, 7).
CHANGES: tuple[Step, ...] = ("edit", "retitle", "delete", "restore")
#: Words the demo's edit rewrites (the first one found), as an editor would.
REWORDINGS = (
    ("different", "various"),
    ("great", "glorious"),
    ("warm", "warmest"),
    ("large", "huge"),
    ("held", "staged"),
)
ADDED_SENTENCE = "This sentence was added later."


def demo_steps(run: int, publish_every: int = 2) -> list[Step]:
    """What the demo site does after its ``run``-th kcna run (counted from 1): one change of
    :data:`CHANGES` after each of the runs 1, 3, 5 and 7, and the next held-back article
    published after every ``publish_every``-th run."""
    steps: list[Step] = []
    if run % 2 == 1 and run // 2 < len(CHANGES):
        steps.append(CHANGES[run // 2])
    if run % publish_every == 0:
        steps.append("publish")
    return steps


def changed_sentence(text: str) -> str:
    """``text`` with one sentence changed: the first word of :data:`REWORDINGS` found is
    replaced; without any, a sentence is added to the first paragraph."""
    for old, new in REWORDINGS:
        changed, count = re.subn(rf"\b{old}\b", new, text, count=1)
        if count:
            return changed
    first, _, rest = text.partition("\n")
    return f"{first} {ADDED_SENTENCE}" + (f"\n{rest}" if rest else "")


def changed_title(title: str) -> str:
    """A new title: without its last "from ..." part, else with "Update:" before it."""
    shorter, found, _ = title.rpartition(" from ")
    return shorter if found and shorter else f"Update: {title}"


class ArchiveIds:
    """The ids the archive gave the demo site's articles, read from the demo database."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._repo: Repository | None = None

    def __call__(self, article: SiteArticle) -> str | None:
        """The article's id; None when it is not stored (yet) or the database cannot say."""
        try:
            if self._repo is None:
                self._repo = Repository(make_engine(self.db_url))
            for url in sorted(article.urls):
                found = self._repo.articles.id_at(url)
                if found is not None:
                    return found
        except StorageError:
            return None
        return None

    def close(self) -> None:
        if self._repo is not None:
            self._repo.engine.dispose()


class DemoSite:
    """The demo site's changes, run by run: after each run of :data:`CHANGED_SOURCE`,
    ``steps(run)`` (by default :func:`demo_steps`) says what to do, and each change is told to
    ``say`` in one line naming the article (its id from ``find_id`` when it is stored, else
    its URL)."""

    def __init__(
        self,
        built: BuiltSite,
        *,
        say: Callable[[str], None],
        steps: Callable[[int], Sequence[Step]] = demo_steps,
        find_id: Callable[[SiteArticle], str | None] = lambda article: None,
    ) -> None:
        targets = built.changeable()
        if len(targets) < 3:
            raise ValueError("the demo site needs three articles it may change")
        self.built = built
        self.say = say
        self.steps = steps
        self.find_id = find_id
        self.targets: dict[Step, SiteArticle] = {
            "edit": targets[0],
            "retitle": targets[1],
            "delete": targets[2],
            "restore": targets[2],
        }
        self.runs = 0
        self.done: list[Step] = []
        self.finished = False
        self._lock = threading.Lock()

    def after_run(self, report: RunReport) -> None:
        """The daemon's hook after each run: a run of the changed source moves the demo on."""
        if report.source == CHANGED_SOURCE:
            self.next_run()

    def next_run(self) -> None:
        """One more run of the changed source is over: make the changes it calls for."""
        with self._lock:
            self.runs += 1
            for step in self.steps(self.runs):
                line = self.make(step)
                if line is not None:
                    self.done.append(step)
                    self.say(line)
            if not self.finished and self._all_done():
                self.finished = True
                self.say(
                    "demo: every article is published and every change made;"
                    " the daemon keeps checking"
                )

    def make(self, step: Step) -> str | None:
        """Make one change; the line that tells it (None: nothing left to publish)."""
        built = self.built
        if step == "publish":
            article = built.publish_next()
            if article is None:
                return None
            left = len(built.held_back)
            return f"demo: published {article.title!r} ({left} more to come)"
        article = self.targets[step]
        before = article.title
        if step == "edit":
            built.edit(article, text=changed_sentence(article.text))
            what = f"edited a sentence of {article.title!r}"
        elif step == "retitle":
            built.edit(article, title=changed_title(article.title))
            what = f"retitled {before!r} as {article.title!r}"
        elif step == "delete":
            built.delete(article)
            what = f"deleted {article.title!r}: its page answers 404"
        else:
            built.restore(article)
            what = f"brought {article.title!r} back"
        return f"demo: {what} ({self._see(article)})"

    def _see(self, article: SiteArticle) -> str:
        found = self.find_id(article)
        if found is not None:
            return f"kcna-monitor history {found} to see it"
        return f"at {min(article.urls)}"

    def _all_done(self) -> bool:
        return not self.built.held_back and all(step in self.done for step in CHANGES)


def demo_db_url() -> str:
    """The demo's own database: never the user's archive."""
    return f"sqlite:///{data_dir() / 'demo.db'}"


def demo_config(built: BuiltSite, site_url: str, every: timedelta, db_url: str) -> Config:
    def source(name: str) -> SourceConfig:
        return SourceConfig(
            name=name,
            base_url=site_url,
            start_urls=tuple(site_url + path for path in built.start_paths_of(name)),
            every=every,
            jitter=timedelta(0),
            timeout=timedelta(minutes=2),
            delay=timedelta(0),
            concurrency=4,
            settings=dict(LOCAL_SETTINGS),
        )

    return Config(
        path=None,
        database_url=db_url,
        daemon=DaemonConfig(stop_grace=timedelta(seconds=10)),
        sources={name: source(name) for name in SOURCES},
    )


def _interval(every: str) -> timedelta:
    try:
        interval = parse_duration(every)
    except ValueError:
        raise ConfigError(f'--every: bad duration "{every}" (use e.g. 5s, 1m)') from None
    if interval < timedelta(seconds=1):
        raise ConfigError(f"--every: {format_duration(interval)} is too short (at least 1s)")
    return interval


def _introduce(say: Callable[[str], None], site_url: str, db_url: str, config: Config) -> None:
    every = format_duration(config.sources[CHANGED_SOURCE].every)
    say(f"demo: the bundled copy of kcna.kp and KCNA Watch is served at {site_url}")
    say(f"demo: articles go to the demo database {display_url(db_url)} (not your archive)")
    say(
        f"demo: crawling both sources every {every}; after kcna runs the site publishes new"
        " articles, edits one, retitles one, deletes one and brings it back"
    )
    say(f"demo: to look, in another terminal: export KCNA_MONITOR_DB={db_url}")
    say("demo:   kcna-monitor list --sort first-seen   the latest arrivals first")
    say("demo:   kcna-monitor history ID               an article's versions, diffs, gone/back")
    say("demo:   kcna-monitor status                   runs, counts and what comes next")
    say("demo: stop with Ctrl-C")


def run_demo(
    *,
    port: int = 0,
    every: str = "5s",
    db_url: str | None = None,
    publish_every: int = 2,
    log_level: str = "INFO",
    out: TextIO,
) -> int:
    interval = _interval(every)
    db_url = db_url or demo_db_url()
    setup_logging(log_level)
    built = build_site(hold_back=HELD_BACK)

    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    ids = ArchiveIds(db_url)
    demo = DemoSite(built, say=say, steps=lambda run: demo_steps(run, publish_every), find_id=ids)
    try:
        with FixtureServer(built.site, port=port) as server:
            config = demo_config(built, server.url, interval, db_url)
            _introduce(say, server.url, db_url, config)
            daemon = Daemon(config, db_url=db_url, log_level=log_level, on_run=demo.after_run)
            return daemon.run()
    finally:
        ids.close()
