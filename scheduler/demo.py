"""``kcna-monitor demo``: the daemon at work on the bundled copy of the sites, offline.

Serves :func:`replica.site.build_site` on 127.0.0.1 with a few kcna.kp articles held
back, runs the daemon against it on a short interval (the same daemon, crawling in child
processes, as ``kcna-monitor run``), and publishes one held-back article every few runs, so
new articles can be seen arriving, each stored once. It writes to a demo database of its
own, never to the user's archive.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TextIO

from crawler.settings import data_dir
from crawler.sources import SOURCES
from replica.server import FixtureServer
from replica.site import BuiltSite, build_site
from scheduler.config import Config
from scheduler.configtypes import ConfigError, format_duration, parse_duration
from scheduler.daemon.service import Daemon
from scheduler.daemon.settings import DaemonConfig, SourceConfig
from scheduler.daemon.supervisor import RunReport
from scheduler.logs import setup_logging
from storage.db import display_url

#: Articles kept back at the start, published one by one.
HELD_BACK = 6
#: Scrapy settings for a local site: no politeness pauses, no slow retries.
LOCAL_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "KCNA_MONITOR_RETRY_BACKOFF": 0,
    "RETRY_TIMES": 1,
    "KCNA_MONITOR_MAX_PAGES": 5,
}


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


def run_demo(
    *,
    port: int = 0,
    every: str = "5s",
    db_url: str | None = None,
    publish_every: int = 2,
    log_level: str = "INFO",
    out: TextIO,
) -> int:
    try:
        interval = parse_duration(every)
    except ValueError:
        raise ConfigError(f'--every: bad duration "{every}" (use e.g. 5s, 1m)') from None
    if interval < timedelta(seconds=1):
        raise ConfigError(f"--every: {format_duration(interval)} is too short (at least 1s)")
    db_url = db_url or demo_db_url()
    setup_logging(log_level)
    built = build_site(hold_back=HELD_BACK)
    runs = 0
    lock = threading.Lock()

    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    def after_run(report: RunReport) -> None:
        nonlocal runs
        with lock:
            runs += 1
            due = runs % publish_every == 0
        if not due:
            return
        article = built.publish_next()
        if article is not None:
            say(
                f"demo: published a new article on the demo site: {article.title!r}"
                f" ({len(built.held_back)} more to come)"
            )
        elif not built.held_back and runs == publish_every * (HELD_BACK + 1):
            say("demo: every held-back article is published; the daemon keeps checking")

    with FixtureServer(built.site, port=port) as server:
        config = demo_config(built, server.url, interval, db_url)
        shown = display_url(db_url)
        say(f"demo: the bundled copy of kcna.kp and KCNA Watch is served at {server.url}")
        say(f"demo: articles go to the demo database {shown} (not your archive)")
        say(
            f"demo: crawling both sources every {format_duration(interval)}; a new article is"
            f" published after every {publish_every} runs"
        )
        say(
            f"demo: in another terminal: kcna-monitor status --db {db_url}  |"
            f"  kcna-monitor list --db {db_url}"
        )
        say("demo: stop with Ctrl-C")
        daemon = Daemon(config, db_url=db_url, log_level=log_level, on_run=after_run)
        return daemon.run()
