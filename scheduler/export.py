"""Writing stored articles out: JSON Lines, CSV, and a readable text view for ``show``.

Control characters (C0 and C1, and DEL) other than newline and tab never leave through the
command line, whatever an archive holds: text meant for a terminal or a CSV cell gets the
replacement character U+FFFD in place of each (:func:`printable`), JSON gets ``\\uXXXX``
escapes (:func:`json_text`), XML gets character references (:func:`xml_text`). JSON and XML
thus keep the stored text exactly; a terminal never receives an escape sequence, a bell or a
backspace from an article.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
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

#: What stands for a control character in terminal text and CSV.
REPLACEMENT = "\ufffd"
#: C0 controls but tab and newline, DEL, C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` fit for a terminal or a CSV cell: every control character except newline and
    tab replaced by U+FFFD, so that an escape sequence shows as text instead of acting."""
    return _CONTROL.sub(REPLACEMENT, text)


def json_text(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the control characters
    that ``json`` leaves raw (DEL and C1) escaped as ``\\uXXXX``; the value is unchanged."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def xml_text(text: str) -> str:
    """XML text with DEL and C1 control characters written as character references (C0 ones
    cannot appear in XML 1.0 at all); the value is unchanged."""
    return _CONTROL.sub(lambda m: f"&#x{ord(m.group()):x};", text)


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` keeping non-ASCII text readable and every control character escaped."""
    return json_text(json.dumps(value, ensure_ascii=False, **options))


def write(articles: Iterable[ArticleView], handle: TextIO, fmt: str) -> int:
    """Write articles to ``handle`` in ``fmt``; return how many were written."""
    if fmt == "jsonl":
        count = 0
        for article in articles:
            handle.write(dumps(article.to_export()) + "\n")
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
        row[name] = "" if value is None else printable(str(value))
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
    return printable("\n".join(lines))


@contextmanager
def output_file(path: Path) -> Iterator[TextIO]:
    """A text file that replaces ``path`` only once everything is written (so a failed
    export leaves an earlier file as it was). Raises :class:`OSError` with a one-line
    ``strerror`` when the file cannot be written there, before anything is read."""
    if path.is_dir():
        raise IsADirectoryError(21, f"{path} is a folder (name a file in it)")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(2, f"folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
