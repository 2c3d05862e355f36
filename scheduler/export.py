"""Writing stored articles out: JSON Lines, CSV, and a readable text view for ``show``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from storage.records import ArticleView

FORMATS = ("jsonl", "csv")

#: The article schema, in export order.
FIELDS = (
    "id",
    "url",
    "urls",
    "source",
    "title",
    "published",
    "published_from",
    "dateline",
    "text",
    "categories",
    "first_seen",
    "last_seen",
    "content_hash",
    "versions",
    "gone",
)

#: How list fields are joined in a CSV cell.
CSV_LIST_SEPARATOR = " | "


def write(articles: Iterable[ArticleView], handle: TextIO, fmt: str) -> int:
    """Write articles to ``handle`` in ``fmt``; return how many were written."""
    if fmt == "jsonl":
        count = 0
        for article in articles:
            handle.write(json.dumps(article.to_export(), ensure_ascii=False) + "\n")
            count += 1
        return count
    if fmt == "csv":
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        count = 0
        for article in articles:
            writer.writerow(_csv_row(article.to_export()))
            count += 1
        return count
    raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")


def _csv_row(record: dict[str, Any]) -> dict[str, Any]:
    row = {}
    for name in FIELDS:
        value = record.get(name)
        if isinstance(value, list):
            value = CSV_LIST_SEPARATOR.join(str(v) for v in value)
        row[name] = "" if value is None else value
    return row


def describe(article: ArticleView) -> str:
    """A readable view of one article: fields, URLs, versions, text."""
    record = article.to_export()
    lines = [
        f"id:         {record['id']}",
        f"title:      {record['title']}",
        f"source:     {record['source']}",
        f"published:  {record['published'] or '?'} (from {record['published_from'] or '?'})",
        f"dateline:   {record['dateline'] or '-'}",
        f"categories: {', '.join(record['categories']) or '-'}",
        f"url:        {record['url']}",
        f"first seen: {record['first_seen']}",
        f"last seen:  {record['last_seen']}",
        *([f"gone:       since {record['gone']}"] if record["gone"] else []),
        f"URLs ({len(article.urls)}):",
    ]
    lines += [
        f"  {u.url}  (first {u.first_seen.isoformat()}, last {u.last_seen.isoformat()})"
        for u in article.urls
    ]
    lines.append(f"versions ({record['versions']}):")
    lines += [
        f"  {v.number}  {v.first_seen.isoformat()}  {v.content_hash[:12]}  {v.title}"
        for v in article.history
    ]
    lines += ["", record["text"], ""]
    return "\n".join(lines)
