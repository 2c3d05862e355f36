"""The spool: articles the database would not take, kept in a file for the next crawl (the
storing pipeline's, :mod:`crawler.pipelines.store`).

One JSON Lines file per source (``<source>.jsonl``). Appends are fsynced before they count,
and start on a new line after a line that an earlier write left cut short. A crawl loads the
spool by moving it to ``<source>.loading`` first, so that spooling during the load never
touches the file being loaded; the ``.loading`` file is removed only once its articles are
stored, so a load that was interrupted is resumed by the next crawl. Storing an article twice
is harmless (the archive recognises it), so a line may be loaded more than once, never lost.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from storage.records import ArticleInput, RawPage

logger = logging.getLogger(__name__)


class Spool:
    """The spool file of one source in ``folder``."""

    def __init__(self, folder: Path, source: str) -> None:
        self.path = folder / f"{source}.jsonl"
        self.loading = self.path.with_suffix(".loading")

    def append(self, articles: Sequence[ArticleInput]) -> None:
        """Add ``articles``, durably; OSError (e.g. no space left) when that fails."""
        _append_lines(self.path, [json.dumps(encode(article)) for article in articles])

    def take(self) -> tuple[list[ArticleInput], int] | None:
        """What waits to be loaded (an interrupted load's and what was spooled since), with
        the number of unreadable lines; None when nothing does. Call :meth:`loaded` once
        the articles are stored."""
        if self.path.exists():
            if self.loading.exists():
                _append_lines(self.loading, self.path.read_text(encoding="utf-8").splitlines())
                self.path.unlink()
            else:
                self.path.replace(self.loading)
        if not self.loading.exists():
            return None
        return _read(self.loading)

    def loaded(self) -> None:
        """The articles :meth:`take` gave are stored: forget them."""
        self.loading.unlink(missing_ok=True)


async def keep(
    spool: Spool | None, articles: Sequence[ArticleInput], error: str | None
) -> str | None:
    """Append articles the database refused (``error`` says why) to ``spool``, durably and off
    the reactor thread. None when they are spooled; else why they are lost: the run fails, and
    the next crawl fetches them again."""
    count = len(articles)
    if spool is None:
        why = "no spool folder is set (KCNA_MONITOR_SPOOL_DIR)"
    else:
        try:
            await asyncio.to_thread(spool.append, articles)
        except OSError as exc:
            why = f"could not spool them to {spool.path}: {exc.strerror or exc}"
        else:
            logger.error(
                "the database refused %d articles (%s): kept in %s for the next crawl",
                count,
                error or "not written in time",
                spool.path,
            )
            return None
    lost = (
        f"{count} articles could not be stored ({error}) and {why}; the next crawl fetches"
        " them again"
    )
    logger.error("%s", lost)
    return lost


async def load(spool: Spool, store: Callable[[list[ArticleInput]], Awaitable[bool]]) -> None:
    """Store what earlier crawls spooled with ``store`` (True: all of it stored); when the
    database refuses them, they stay in the file for the next crawl."""
    try:
        taken = await asyncio.to_thread(spool.take)
    except OSError as exc:
        logger.error("could not read the spool %s: %s", spool.path, exc)
        return
    if taken is None:
        return
    articles, bad = taken
    if bad:
        logger.warning("%s: skipped %d unreadable lines (a write cut short)", spool.loading, bad)
    logger.info("loading %d spooled articles from %s", len(articles), spool.loading)
    if await store(articles):
        spool.loaded()
    else:
        logger.error("database unavailable: the spooled articles stay in %s", spool.loading)


def _append_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        if handle.tell() and not _ends_a_line(path):
            handle.write("\n")  # after a line an earlier write left cut short
        for line in lines:
            handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _ends_a_line(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _read(path: Path) -> tuple[list[ArticleInput], int]:
    articles, bad = [], 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                articles.append(decode(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                bad += 1
    return articles, bad


def encode(article: ArticleInput) -> dict[str, Any]:
    """One spool line's JSON object for ``article``."""
    data = {
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source": article.source,
        "title": article.title,
        "text": article.text,
        "published": article.published.isoformat() if article.published else None,
        "published_from": article.published_from,
        "dateline": article.dateline,
        "categories": list(article.categories),
        "source_key": article.source_key,
        "seen_at": article.seen_at.isoformat(),
    }
    if article.page is not None:
        page = article.page
        data["page"] = {
            "url": page.url,
            "body": base64.b64encode(page.body).decode("ascii"),
            "fetched_at": page.fetched_at.isoformat(),
            "status": page.status,
            "parser_version": page.parser_version,
            "content_type": page.content_type,
        }
    return data


def decode(data: dict[str, Any]) -> ArticleInput:
    """The article a spool line's JSON object holds."""
    page = data.get("page")
    return ArticleInput(
        url=data["url"],
        canonical_url=data["canonical_url"],
        source=data["source"],
        title=data["title"],
        text=data["text"],
        published=date.fromisoformat(data["published"]) if data["published"] else None,
        published_from=data["published_from"],
        dateline=data["dateline"],
        categories=tuple(data["categories"]),
        source_key=data["source_key"],
        seen_at=datetime.fromisoformat(data["seen_at"]),
        page=RawPage(
            url=page["url"],
            body=base64.b64decode(page["body"]),
            fetched_at=datetime.fromisoformat(page["fetched_at"]),
            status=page["status"],
            parser_version=page["parser_version"],
            content_type=page["content_type"],
        )
        if page
        else None,
    )
