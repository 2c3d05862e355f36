"""An article's history as a reader sees it: its versions with the times they were first seen,
what happened to it (new, edited, gone, back), and a unified diff of title and text between
consecutive versions (``kcna-monitor history``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from storage.records import ArticleView, EventView, VersionView


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def version_diff(older: VersionView, newer: VersionView) -> list[str]:
    """Unified diff lines of title, then text, from ``older`` to ``newer`` (empty parts are
    left out: a version may change only its title or only its text)."""
    lines: list[str] = []
    for part, before, after in (
        ("title", older.title, newer.title),
        ("text", older.text, newer.text),
    ):
        lines += difflib.unified_diff(
            before.split("\n"),
            after.split("\n"),
            fromfile=f"version {older.number} {part} ({_when(older.first_seen)})",
            tofile=f"version {newer.number} {part} ({_when(newer.first_seen)})",
            lineterm="",
        )
    return lines


def _event_line(event: EventView) -> str:
    what = event.kind
    if event.version is not None:
        what += f" (version {event.version})"
    if event.detail:
        what += f": {event.detail}"
    return f"  {_when(event.at)}  {what}"


def describe_history(article: ArticleView, events: Iterable[EventView]) -> str:
    """The readable history of an article: versions, events, diffs of consecutive versions."""
    published = article.published.isoformat() if article.published else "?"
    lines = [
        f"{article.id}  {article.title}",
        f"source {article.source}, published {published}, {article.versions} version"
        + ("s" if article.versions != 1 else "")
        + (f", gone since {_when(article.gone_at)}" if article.gone_at else ""),
        "",
        "versions:",
    ]
    lines += [
        f"  {v.number}  first seen {_when(v.first_seen)}  {v.content_hash[:12]}  {v.title}"
        for v in article.history
    ]
    events = list(events)
    if events:
        lines += ["", "events:"]
        lines += [_event_line(e) for e in events]
    for older, newer in pairwise(article.history):
        lines += ["", *version_diff(older, newer)]
    return "\n".join(lines) + "\n"


def history_json(article: ArticleView, events: Iterable[EventView]) -> dict[str, Any]:
    history = article.history
    return {
        "id": article.id,
        "title": article.title,
        "gone": article.to_export()["gone"],
        "versions": article.to_export(all_versions=True)["history"],
        "events": [
            {
                "id": e.id,
                "kind": e.kind,
                "version": e.version,
                "at": e.at.astimezone(UTC).isoformat(),
                "detail": e.detail,
            }
            for e in events
        ],
        "diffs": [
            {"from": a.number, "to": b.number, "diff": "\n".join(version_diff(a, b))}
            for a, b in pairwise(history)
        ],
    }
