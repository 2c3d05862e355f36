"""Helpers of the storage tests: the PostgreSQL test server, a fixed clock, article factories,
and small SQL reads of what no runtime code reads back (raw pages, failures, the outbox).

Every database test runs twice: on a SQLite file and on PostgreSQL. The PostgreSQL server is
named by ``KCNA_MONITOR_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``); each
test gets a fresh schema of its own, dropped afterwards. When the server cannot be reached the
PostgreSQL variants are skipped, or fail when the ``CI`` environment variable is set.

The fixtures using them are in ``tests/conftest.py``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import random
import shutil
import traceback
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from alembic import command
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from storage.db import alembic_config, display_url, make_engine, migrate
from storage.models import ALARMS, FAILURES, OUTBOX, PAGES
from storage.records import ArticleInput, NotificationView, RawPage
from storage.repository import Repository

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
KCNA_EN = "KCNA.kp (En)"
#: The fixed clock of the tests.
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def pg_admin_url() -> str:
    return os.environ.get("KCNA_MONITOR_TEST_PG") or DEFAULT_PG_URL


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@functools.cache
def _pg_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "the psycopg package is not installed"
    try:
        with psycopg.connect(pg_admin_url(), connect_timeout=3):
            return None
    except Exception as error:  # any reason at all means: no PostgreSQL tests here
        return " ".join(str(error).split())


def require_pg() -> str:
    """The PostgreSQL test URL; skips the test (fails it under CI) when unreachable."""
    problem = _pg_problem()
    if problem is not None:
        message = f"PostgreSQL test server {display_url(pg_admin_url())} unreachable: {problem}"
        if _in_ci():
            pytest.fail(message + " (CI is set, so this is an error)")
        pytest.skip(message + " (set KCNA_MONITOR_TEST_PG to a reachable server)")
    return pg_admin_url()


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections work in a new, empty schema; the schema is dropped after."""
    import psycopg

    admin = require_pg()
    schema = f"storage_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(admin).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def copy_of(template: Path, path: Path) -> str:
    """The URL of a copy of the SQLite archive ``template`` at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def pg_migration_sql() -> str:
    """The statements migrating an empty PostgreSQL schema to the latest revision, as Alembic
    renders them offline (one transaction)."""
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql+psycopg://")
    config.output_buffer = io.StringIO()
    with mock.patch.dict(os.environ, {"KCNA_MONITOR_DB": ""}):  # it would win over the URL
        command.upgrade(config, "head", sql=True)
    return config.output_buffer.getvalue()


def pg_execute(url: str, sql: str) -> None:
    """Run the statements ``sql`` on the PostgreSQL database at ``url``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql)


def q_url(n: int, variant: int = 0) -> str:
    """A kcna.kp /q/ article URL; variants of one ``n`` are aliases of one article."""
    token = hashlib.sha256(f"{n}/{variant}".encode()).hexdigest()
    return f"http://www.kcna.kp/en/article/q/{token}.kcmsf"


def watch_url(n: int) -> str:
    return f"https://kcnawatch.org/newstream/{1700000000 + n}-{n}/article-{n}/"


def make_item(
    n: int = 1,
    *,
    url: str | None = None,
    canonical_url: str | None = None,
    title: str | None = None,
    text: str | None = None,
    published: date | None = date(2026, 3, 1),
    published_from: str | None = "page-stamp",
    dateline: str | None = "Pyongyang, March 1 (KCNA)",
    seen_at: datetime = T0,
    categories: tuple[str, ...] = (),
    source_key: str | None = None,
    source: str = KCNA_EN,
    page: RawPage | None = None,
) -> ArticleInput:
    """Article ``n`` as read at its first kcna.kp URL, unless told otherwise."""
    url = url or q_url(n)
    return ArticleInput(
        url=url,
        canonical_url=canonical_url or url,
        source=source,
        title=title if title is not None else f"Report number {n} on the people’s economy",
        text=text
        if text is not None
        else (
            f"Pyongyang, March 1 (KCNA) -- Article {n}: the “working people” met "
            f"on {n} occasions.\u00a0It was   reported. -0-"
        ),
        published=published,
        published_from=published_from if published else None,
        dateline=dateline,
        seen_at=seen_at,
        categories=categories,
        source_key=source_key,
        page=page,
    )


def concurrency_items(articles: int = 300) -> list[ArticleInput]:
    """``articles`` articles as a crawl meets them: every one at its kcna.kp URL, a third also
    under a second /q/ URL, another third also as a KCNA Watch copy; in a fixed mixed order."""
    items: list[ArticleInput] = []
    for n in range(articles):
        items.append(make_item(n, categories=("News",)))
        if n % 3 == 0:
            items.append(make_item(n, url=q_url(n, 1), seen_at=T0 + HOUR))
        elif n % 3 == 1:
            copy = make_item(n, url=watch_url(n), canonical_url=q_url(n), seen_at=T0 + HOUR)
            items.append(
                replace(
                    copy,
                    text=copy.text.replace("“", '"').replace("”", '"').replace("\u00a0", " "),
                    title=copy.title.replace("’", "'"),
                    published_from="meta-line",
                    categories=("KCNA Watch",),
                )
            )
    random.Random(20260301).shuffle(items)
    return items


def store_concurrently(url: str, barrier: Any, reverse: bool, results: Any) -> None:
    """One of the processes of the concurrency test: wait at the barrier, migrate, then
    store :func:`concurrency_items` in batches; report outcome counts or the traceback."""
    try:
        engine = make_engine(url)
        barrier.wait(timeout=120)
        migrate(engine)
        repo = Repository(engine)
        items = concurrency_items()
        batches = [items[i : i + 25] for i in range(0, len(items), 25)]
        if reverse:
            batches = [batch[::-1] for batch in batches[::-1]]
        counts: Counter[str] = Counter()
        for batch in batches:
            counts.update(result.outcome.value for result in repo.articles.save(batch))
        engine.dispose()
        results.put(("ok", dict(counts)))
    except BaseException:
        results.put(("error", traceback.format_exc()))


# -- reading back what only the tests read ----------------------------------------------------


def latest_page(engine: Engine, url: str) -> RawPage | None:
    """The most recently fetched body stored for ``url``, decompressed."""
    query = (
        select(PAGES)
        .where(PAGES.c.url == url)
        .order_by(PAGES.c.last_fetched.desc(), PAGES.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return RawPage(
        url=row.url,
        body=zlib.decompress(row.body),
        fetched_at=row.last_fetched,
        status=row.status,
        parser_version=row.parser_version,
        content_type=row.content_type,
    )


def count_rows(engine: Engine, table: Any) -> int:
    """Rows in ``table`` (a table or a model)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def count_pages(engine: Engine) -> int:
    """Distinct stored (url, body) pairs."""
    return count_rows(engine, PAGES)


def count_alarms(engine: Engine) -> int:
    """Alarms ever raised, cleared or not."""
    return count_rows(engine, ALARMS)


@dataclass(frozen=True, slots=True)
class FailureView:
    """One recorded failure, as the tests read it back."""

    id: int
    run_id: int | None
    url: str
    reason: str
    at: datetime
    listed_on: date | None = None
    category: str | None = None


def last_failures(engine: Engine, limit: int = 20) -> list[FailureView]:
    """The latest recorded failures, newest first."""
    query = select(FAILURES).order_by(FAILURES.c.at.desc(), FAILURES.c.id.desc()).limit(limit)
    with engine.connect() as connection:
        return [FailureView(**dict(row)) for row in connection.execute(query).mappings()]


def notifications(
    engine: Engine, *, status: str | None = None, rule: str | None = None
) -> list[NotificationView]:
    """Outbox rows, oldest first; optionally in one status, or of one rule."""
    query = select(OUTBOX).order_by(OUTBOX.c.id)
    if status is not None:
        query = query.where(OUTBOX.c.status == status)
    if rule is not None:
        query = query.where(OUTBOX.c.rule == rule)
    with engine.connect() as connection:
        return [NotificationView(**dict(row)) for row in connection.execute(query).mappings()]


def event_kinds(repo: Repository, after: int = 0) -> list[tuple[str, str, int | None]]:
    """(article id, kind, version) of each article event after the event id ``after``."""
    return [(e.article_id, e.kind, e.version) for e in repo.articles.events_after(after)]
