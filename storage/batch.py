"""How a batch of sightings is resolved against the archive and written, in one session.

This is the work of :meth:`storage.articles.Articles.save`. It is safe to run from several
processes at once:

- rows are added with ``INSERT ... ON CONFLICT`` on natural keys, never check-then-insert;
- article ids are derived from content, so two processes meeting the same new article
  insert the same id and one insert simply does nothing;
- on SQLite a write transaction takes the write lock when it begins; on PostgreSQL the
  articles a batch updates are locked (``SELECT ... FOR UPDATE``, in id order) and rows are
  inserted in key order, so concurrent batches neither lose updates nor deadlock. If a
  concurrent batch created an article, key or version this batch was about to create, the
  batch raises :class:`storage.unit.RaceLost` and is run again against the now-committed
  state (its last attempt locks the articles table, so it always completes).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, case, select, text, update
from sqlalchemy.orm import Session

from storage.events import event_row, insert_events
from storage.keys import article_id, identify
from storage.merge import ArticleState
from storage.models import ARTICLES, KEYS, PAGES, URLS, VERSIONS
from storage.records import ArticleInput, RawPage, SaveOutcome, SaveResult
from storage.unit import RaceLost, chunks, dialect_of, insert

#: The ``articles`` columns a batch of sightings reads and writes (``checked_at`` belongs to
#: revisits alone).
_STATE_COLUMNS = tuple(c for c in ARTICLES.columns if c.name != "checked_at")
_MERGED_COLUMNS = tuple(c.name for c in _STATE_COLUMNS if c.name != "id")


@dataclass
class _Batch:
    """Everything one batch will write."""

    states: dict[str, ArticleState]
    new_keys: dict[str, str]  # key -> article id
    urls: dict[str, dict[str, Any]]  # url -> article_urls row
    results: list[SaveResult]


def save_batch(
    session: Session, items: Sequence[ArticleInput], aggregators: frozenset[str], *, last: bool
) -> list[SaveResult]:
    """Store ``items`` (with their pages); one result per input, in order. Raises
    :class:`RaceLost` when a concurrent batch won a race, unless this is the ``last`` attempt."""
    if last and dialect_of(session) == "postgresql":
        # Plain reads go on; other writers of articles wait until this batch commits.
        session.execute(text("LOCK TABLE articles IN EXCLUSIVE MODE"))
    batch = _resolve(session, items, aggregators)
    _write_batch(session, batch, tolerate_races=last)
    _store_pages(session, [i.page for i in items if i.page is not None])
    return batch.results


def _resolve(
    session: Session, items: Sequence[ArticleInput], aggregators: frozenset[str]
) -> _Batch:
    identities = [identify(item) for item in items]  # each text normalised once
    item_keys = [identity.keys for identity in identities]
    candidates = [article_id(identity.fingerprint) for identity in identities]
    known = _known_keys(session, sorted({k for keys in item_keys for k in keys}))
    states = _load_states(session, sorted(set(known.values()) | set(candidates)))

    batch = _Batch(states=states, new_keys={}, urls={}, results=[])
    for item, keys, candidate, identity in zip(
        items, item_keys, candidates, identities, strict=True
    ):
        owner = None
        for key in keys:
            owner = known.get(key) or batch.new_keys.get(key)
            if owner is not None:
                break
        if owner is None and candidate in states:
            owner = candidate  # an article first seen with this very content
        if owner is None:
            state = ArticleState.create(candidate, item, digest=identity.content_hash)
            states[candidate] = state
            owner = candidate
            batch.results.append(SaveResult(owner, SaveOutcome.NEW, 1))
        else:
            outcome, number = states[owner].apply(item, aggregators, digest=identity.content_hash)
            batch.results.append(SaveResult(owner, outcome, number))
        for key in keys:
            if key not in known and key not in batch.new_keys:
                batch.new_keys[key] = owner
        _note_url(batch.urls, item, owner)
    return batch


def _known_keys(session: Session, keys: list[str]) -> dict[str, str]:
    """The stored keys among ``keys`` and the article each points at."""
    known: dict[str, str] = {}
    for chunk in chunks(keys):
        rows = session.execute(select(KEYS.c.key, KEYS.c.article_id).where(KEYS.c.key.in_(chunk)))
        known.update({key: aid for key, aid in rows})
    return known


def _note_url(urls: dict[str, dict[str, Any]], item: ArticleInput, owner: str) -> None:
    row = urls.get(item.url)
    if row is None:
        urls[item.url] = {
            "url": item.url,
            "article_id": owner,
            "first_seen": item.seen_at,
            "last_seen": item.seen_at,
        }
    else:
        row["first_seen"] = min(row["first_seen"], item.seen_at)
        row["last_seen"] = max(row["last_seen"], item.seen_at)


def _load_states(session: Session, ids: list[str]) -> dict[str, ArticleState]:
    """The stored articles among ``ids``, locked for update on PostgreSQL (in id order)."""
    states: dict[str, ArticleState] = {}
    for chunk in chunks(ids):
        query = (
            select(*_STATE_COLUMNS).where(ARTICLES.c.id.in_(chunk)).order_by(ARTICLES.c.id)
        ).with_for_update()
        for row in session.execute(query).mappings():
            state = ArticleState(is_new=False, **dict(row))
            state.categories = list(state.categories or [])
            state.loaded = state.snapshot()
            states[state.id] = state
    existing = sorted(states)
    for chunk in chunks(existing):
        rows = session.execute(
            select(VERSIONS.c.article_id, VERSIONS.c.content_hash, VERSIONS.c.number).where(
                VERSIONS.c.article_id.in_(chunk)
            )
        )
        for aid, digest, number in rows:
            states[aid].known_hashes.setdefault(digest, number)
    return states


def _write_batch(session: Session, batch: _Batch, *, tolerate_races: bool) -> None:
    states = [batch.states[aid] for aid in sorted(batch.states)]
    new_rows = [s.row() for s in states if s.is_new]
    created = _insert_returning(session, ARTICLES, new_rows, ["id"])
    if not tolerate_races and len(created) != len(new_rows):
        raise RaceLost

    key_rows = [{"key": k, "article_id": a} for k, a in sorted(batch.new_keys.items())]
    added = _insert_returning(session, KEYS, key_rows, ["key"])
    if not tolerate_races and len(added) != len(key_rows):
        raise RaceLost

    _upsert_urls(session, [batch.urls[u] for u in sorted(batch.urls)])

    version_rows = [v for s in states for v in s.new_versions]
    stored = _insert_returning(session, VERSIONS, version_rows, ["article_id", "number"])
    if not tolerate_races and len(stored) != len(version_rows):
        raise RaceLost

    changed = [s for s in states if not s.is_new and s.dirty]
    if changed:
        statement = (
            update(ARTICLES)
            .where(ARTICLES.c.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in _MERGED_COLUMNS})
        )
        params = [{f"b_{name}": value for name, value in s.row().items()} for s in changed]
        session.execute(statement, params)

    insert_events(session, _batch_events(states, created, stored))


def _insert_returning(
    session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` skipping conflicts on ``keys``; the keys of the rows inserted."""
    # Rows passed as parameters (executemany), not as VALUES: the statement is the same
    # for every batch, so it is compiled once and cached.
    statement = (
        insert(session, table)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(*(table.c[k] for k in keys))
    )
    inserted: list[tuple[Any, ...]] = []
    for chunk in chunks(rows):
        inserted.extend(tuple(r) for r in session.execute(statement, list(chunk)))
    return inserted


def _upsert_urls(session: Session, rows: list[dict[str, Any]]) -> None:
    statement = insert(session, URLS)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["url"],
        set_={
            "first_seen": case(
                (new.first_seen < URLS.c.first_seen, new.first_seen),
                else_=URLS.c.first_seen,
            ),
            "last_seen": case(
                (new.last_seen > URLS.c.last_seen, new.last_seen),
                else_=URLS.c.last_seen,
            ),
        },
    )
    for chunk in chunks(rows):
        session.execute(statement, list(chunk))  # executemany: one cached statement


def _store_pages(session: Session, pages: Sequence[RawPage]) -> None:
    """Store fetched pages, compressed; identical bytes at the same URL are kept once."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for page in pages:
        digest = hashlib.sha256(page.body).hexdigest()
        row = rows.get((page.url, digest))
        if row is not None:
            row["first_fetched"] = min(row["first_fetched"], page.fetched_at)
            row["last_fetched"] = max(row["last_fetched"], page.fetched_at)
            continue
        rows[(page.url, digest)] = {
            "url": page.url,
            "sha256": digest,
            "body": zlib.compress(page.body, 6),
            "size": len(page.body),
            "status": page.status,
            "content_type": page.content_type,
            "parser_version": page.parser_version,
            "first_fetched": page.fetched_at,
            "last_fetched": page.fetched_at,
        }
    ordered = [rows[k] for k in sorted(rows)]
    statement = insert(session, PAGES)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["url", "sha256"],
        set_={
            "last_fetched": case(
                (new.last_fetched > PAGES.c.last_fetched, new.last_fetched),
                else_=PAGES.c.last_fetched,
            )
        },
    )
    for chunk in chunks(ordered, 50):  # bodies are large: keep statements modest
        session.execute(statement, list(chunk))  # executemany: one cached statement


def _batch_events(
    states: Sequence[ArticleState],
    created: Iterable[tuple[Any, ...]],
    stored: Iterable[tuple[Any, ...]],
) -> list[dict[str, Any]]:
    """The events of a written batch: ``new`` for the articles it created, ``edited`` for the
    versions it added to known ones, ``back`` for gone ones it saw again; in time order."""
    made = {row[0] for row in created}
    added = {(row[0], row[1]) for row in stored}
    events: list[dict[str, Any]] = []
    for state in states:
        for version in state.new_versions:
            number = version["number"]
            if (state.id, number) not in added:
                continue
            kind = "new" if number == 1 and state.id in made else "edited"
            if kind == "edited" and number == 1:
                continue  # a concurrent writer created the article: its event is its own
            events.append(event_row(state.id, kind, version["first_seen"], version=number))
        if state.came_back is not None and not state.is_new:
            events.append(event_row(state.id, "back", state.came_back))
    order = {"new": 0, "back": 1, "edited": 2}
    events.sort(key=lambda e: (e["at"], e["article_id"], order[e["kind"]], e["version"] or 0))
    return events
