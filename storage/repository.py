"""The archive's stores, by aggregate, over one engine.

``Repository(engine)`` composes them; each is a :class:`storage.unit.UnitOfWork` whose
public methods are units of work of their own:

- ``repo.articles`` (:class:`storage.articles.Articles`): saving sightings, reading articles
  with their URLs and versions, article events;
- ``repo.crawl_state`` (:class:`storage.crawl_state.CrawlState`): known and failed URLs, HTTP
  validators, revisits and rechecks, gone marks and listings, backfill progress;
- ``repo.runs`` (:class:`storage.runs.Runs`): crawl runs, failures, run statistics and the
  daemon's state of each source;
- ``repo.outbox`` (:class:`storage.outbox.Outbox`): watch matches, notifications, cursors;
- ``repo.alarms`` (:class:`storage.alarms.Alarms`): the sources' health alarms;
- ``repo.search`` (:class:`storage.fulltext.Search`): full-text search, rebuilding its index;
- ``repo.cluster`` (:class:`storage.cluster.Cluster`): daemons' check-ins and their claims of
  scheduled runs (several daemons on one PostgreSQL archive).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from storage.alarms import Alarms
from storage.articles import Articles
from storage.cluster import Cluster
from storage.crawl_state import CrawlState
from storage.fulltext import Search
from storage.merge import DEFAULT_AGGREGATOR_HOSTS
from storage.outbox import Outbox
from storage.runs import Runs


class Repository:
    """The archive behind ``engine`` (see :func:`storage.db.make_engine`), by aggregate.

    ``aggregator_hosts`` names sites whose URLs are copies, never an article's preferred URL.
    """

    def __init__(
        self, engine: Engine, *, aggregator_hosts: Iterable[str] = DEFAULT_AGGREGATOR_HOSTS
    ) -> None:
        self.engine = engine
        self.articles = Articles(engine, aggregator_hosts=aggregator_hosts)
        self.crawl_state = CrawlState(engine)
        self.runs = Runs(engine)
        self.outbox = Outbox(engine)
        self.alarms = Alarms(engine)
        self.search = Search(engine)
        self.cluster = Cluster(engine)
