"""The synthetic archive of the search benchmark: made from the corpus, loaded in bulk.

Articles are recombined from the corpus's distinct articles (a base article's paragraphs
shuffled with paragraphs of others, titles sometimes joined from two), published on any day
from 1997 to 2026, from both sources, with the corpus's topics as categories; a share has 2 to
5 versions (a paragraph dropped, a word replaced, a sentence added) and a share is gone. Rows
go straight into the tables of a migrated archive (Core ``INSERT`` executemany, one
transaction per chunk), not through the crawler or ``Articles.save``: the benchmark measures
reading, and the write path has its own (``bench/storage.py``).

The full-text index is dropped before loading (:func:`drop_index`), so the figures "size
without the index" and "index build time" (``repo.search.reindex()``, which creates what is
missing and fills it) are measured on the same rows.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from storage.fulltext_schema import FTS_TABLES, VECTOR_COLUMN, VECTOR_TABLES
from storage.keys import content_hash, fingerprint
from storage.models import ARTICLES, EVENTS, KEYS, URLS, VERSIONS

#: Bump when the generated archive changes: part of the cache key.
GENERATOR_VERSION = "1"
SEED = 20261206
#: Articles generated and inserted per transaction.
CHUNK = 5000
FIRST_DAY = date(1997, 1, 1)
LAST_DAY = date(2026, 11, 30)
#: Shares of articles with 2, 3, 4 and 5 versions, and of gone articles.
VERSION_SHARES = ((5, 0.02), (4, 0.02), (3, 0.04), (2, 0.12))
GONE_SHARE = 0.03
REPLACEMENTS = ("resolutely", "vehemently", "firmly", "strongly", "sternly", "boldly")


@dataclass(frozen=True)
class Pool:
    """What articles are made from: the corpus's distinct articles, split in paragraphs."""

    titles: list[str]
    paragraphs: list[list[str]]
    topics: list[str]

    @classmethod
    def from_corpus(cls, records: Sequence[dict[str, Any]]) -> Pool:
        seen: dict[tuple[str, str], None] = {}
        topics: dict[str, None] = {}
        for record in records:
            seen.setdefault((record["title"], record["text"]), None)
            topics.update(dict.fromkeys(record.get("topics") or []))
        titles = [title for title, _ in seen]
        paragraphs = [[p for p in body.split("\n") if p.strip()] or [body] for _, body in seen]
        return cls(titles, paragraphs, sorted(topics) or ["News"])


@dataclass
class Rows:
    """The rows of one chunk, by table."""

    articles: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    urls: list[dict[str, Any]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        return [
            (ARTICLES, self.articles),
            (VERSIONS, self.versions),
            (URLS, self.urls),
            (KEYS, self.keys),
            (EVENTS, self.events),
        ]


def _title(pool: Pool, rng: random.Random, base: int) -> str:
    title = pool.titles[base]
    if rng.random() < 0.3:
        other = rng.choice(pool.titles)
        head = title.split(":")[0].strip()
        tail = other.split(":")[-1].strip()
        title = f"{head}: {tail}" if head != tail else title
    return title


def _paragraphs(pool: Pool, rng: random.Random, base: int) -> list[str]:
    own = list(pool.paragraphs[base])
    body = own[:1]
    rest = own[1:]
    for _ in range(rng.randint(1, 4)):
        rest.append(rng.choice(rng.choice(pool.paragraphs)))
    rng.shuffle(rest)
    return body + rest[: rng.randint(3, 12)]


def _edit(paragraphs: list[str], rng: random.Random, pool: Pool) -> list[str]:
    """The next version's paragraphs: one paragraph dropped, a word replaced or one added."""
    edited = list(paragraphs)
    choice = rng.random()
    if choice < 0.35 and len(edited) > 2:
        del edited[rng.randrange(1, len(edited))]
    elif choice < 0.7:
        where = rng.randrange(len(edited))
        words = edited[where].split(" ")
        words[rng.randrange(len(words))] = rng.choice(REPLACEMENTS)
        edited[where] = " ".join(words)
    else:
        edited.insert(rng.randrange(1, len(edited) + 1), rng.choice(rng.choice(pool.paragraphs)))
    return edited


def _version_count(rng: random.Random) -> int:
    draw = rng.random()
    for count, share in VERSION_SHARES:
        if draw < share:
            return count
        draw -= share
    return 1


def _url(index: int, source: str) -> str:
    token = hashlib.sha256(f"bench-url:{index}".encode()).hexdigest()
    if source == "kcna":
        return f"http://www.kcna.kp/en/article/q/{token}.kcmsf"
    return f"https://kcnawatch.org/newstream/{1_000_000 + index}/{token[:12]}/"


def add_article(rows: Rows, pool: Pool, rng: random.Random, index: int) -> None:
    """One article of the archive, its versions, URL, keys and events, into ``rows``."""
    base = rng.randrange(len(pool.titles))
    title, paragraphs = _title(pool, rng, base), _paragraphs(pool, rng, base)
    span = (LAST_DAY - FIRST_DAY).days
    published = None if rng.random() < 0.01 else FIRST_DAY + timedelta(days=rng.randrange(span))
    day = published or FIRST_DAY + timedelta(days=rng.randrange(span))
    seen = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        hours=rng.randrange(1, 72), seconds=rng.randrange(3600)
    )
    source = "kcna" if rng.random() < 0.65 else "kcnawatch"
    aid = hashlib.sha256(f"bench-article:{index}".encode()).hexdigest()[:16]
    url = _url(index, source)
    count = _version_count(rng)
    at = seen
    for number in range(1, count + 1):
        if number > 1:
            paragraphs = _edit(paragraphs, rng, pool)
            at += timedelta(hours=rng.randrange(2, 240))
        body = "\n".join(paragraphs)
        digest = content_hash(title, body)
        rows.versions.append(
            {"article_id": aid, "number": number, "title": title, "text": body}
            | {"content_hash": digest, "dateline": None, "first_seen": at}
        )
        rows.events.append(
            {"article_id": aid, "kind": "new" if number == 1 else "edited"}
            | {"version": number, "at": at, "detail": None}
        )
    gone = at + timedelta(days=rng.randrange(1, 30)) if rng.random() < GONE_SHARE else None
    if gone is not None:
        rows.events.append(
            {"article_id": aid, "kind": "gone", "version": None, "at": gone}
            | {"detail": f"HTTP 404 at {url}"}
        )
    categories = rng.sample(pool.topics, k=min(len(pool.topics), rng.randrange(0, 3)))
    rows.articles.append(
        {"id": aid, "url": url, "source": source, "title": title, "text": body}
        | {"published": published, "published_from": "page-stamp" if published else None}
        | {"dateline": None, "categories": categories, "content_hash": digest}
        | {"version_count": count, "first_seen": seen, "last_seen": at}
        | {"gone_at": gone, "checked_at": at}
    )
    rows.urls.append({"url": url, "article_id": aid, "first_seen": seen, "last_seen": at})
    rows.keys.append({"key": f"url:{url}", "article_id": aid})
    first_text = rows.versions[-count]["text"]
    rows.keys.append({"key": f"fp:{fingerprint(title, published, first_text)}", "article_id": aid})


def generate(pool: Pool, articles: int, chunk: int = CHUNK) -> Iterator[Rows]:
    """The archive's rows, ``chunk`` articles at a time; the same for the same arguments."""
    rng = random.Random(SEED)
    for start in range(0, articles, chunk):
        rows = Rows()
        for index in range(start, min(articles, start + chunk)):
            add_article(rows, pool, rng, index)
        yield rows


def drop_index(connection: Connection) -> None:
    """Drop the full-text index objects (triggers and FTS5 tables; ``search_vector`` columns
    and their GIN indexes): ``repo.search.reindex()`` makes them again."""
    if connection.dialect.name == "sqlite":
        for fts, _ in FTS_TABLES.items():
            for kind in ("insert", "delete", "update"):
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {fts}_{kind}")
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {fts}")
        return
    for table in VECTOR_TABLES:
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS ix_{table}_{VECTOR_COLUMN}")
        connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {VECTOR_COLUMN}")


def load(engine: Engine, pool: Pool, articles: int) -> dict[str, int]:
    """Drop the index and insert the generated archive; rows inserted by table."""
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        drop_index(connection)
    for rows in generate(pool, articles):
        with engine.begin() as connection:
            for table, batch in rows.tables():
                connection.execute(table.insert(), batch)
                counts[table.name] = counts.get(table.name, 0) + len(batch)
    settle(engine)
    return counts


def settle(engine: Engine) -> None:
    """What a database does by itself after a bulk load: ANALYZE on SQLite; on PostgreSQL
    VACUUM ANALYZE of the archive's tables (autovacuum would, inserts count since
    PostgreSQL 13), which also lets a count read an index alone."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        return
    tables = ", ".join(table.name for table, _ in Rows().tables())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM ANALYZE {tables}")


def _sqlite_pragmas(engine: Engine, *pragmas: str) -> list[int]:
    """The answers of SQLite ``PRAGMA`` statements run outside any transaction (a checkpoint
    cannot run inside one)."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        return [int(cursor.execute(f"PRAGMA {p}").fetchone()[0]) for p in pragmas]
    finally:
        connection.close()


def database_size(engine: Engine) -> int:
    """Bytes the archive takes: the SQLite file (after a checkpoint), or the PostgreSQL
    tables of the current schema with their indexes and TOAST."""
    if engine.dialect.name == "sqlite":
        _, pages, size, free = _sqlite_pragmas(
            engine, "wal_checkpoint(TRUNCATE)", "page_count", "page_size", "freelist_count"
        )
        return (pages - free) * size
    with engine.connect() as connection:
        query = text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
        )
        return int(connection.execute(query).scalar_one())


def sample_ids(engine: Engine, versions: int, limit: int) -> list[str]:
    """Ids of articles with exactly ``versions`` versions, the first ``limit`` by id."""
    query = text("SELECT id FROM articles WHERE version_count = :versions ORDER BY id LIMIT :limit")
    with engine.connect() as connection:
        return [r[0] for r in connection.execute(query, {"versions": versions, "limit": limit})]
