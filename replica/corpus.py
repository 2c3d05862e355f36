"""The real articles the rebuilt sites are made of, and what extraction must make of them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
#: 40 real kcna.kp articles (60 URLs) of the 2024 corpus, chosen for their quirks.
SAMPLE_CORPUS = DATA / "corpus-sample.jsonl"
#: The KCNA Watch page the project started from, rebuilt as HTML.
SEED_CASE = DATA / "seed"

#: The archive the corpus comes from glued the listing's date onto a few titles.
_GLUED_DATE = re.compile(r"\s*\[(?:Juche)?\d+\.\d+\.\d+\.\]\s*$")


def load_records(path: Path = SAMPLE_CORPUS) -> list[dict[str, Any]]:
    """Corpus records, with the listing dates the archive glued onto titles taken off."""
    with path.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    for record in records:
        record["title"] = _GLUED_DATE.sub("", record["title"])
    return records


def group_articles(records: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Corpus records grouped by article (the same article under several URLs)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        groups[(rec["title"], rec["published"], rec["text"])].append(rec)
    return list(groups.values())


def expected_text(text: str) -> str:
    """Corpus text as extraction must return it: spaces normalised, no end marker."""
    lines = []
    for line in text.split("\n"):
        line = " ".join(line.replace("\u00a0", " ").split())
        if line.endswith("-0-"):
            line = line[:-3].rstrip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def expected_title(title: str) -> str:
    """A corpus title as extraction must return it: spaces normalised."""
    return " ".join(title.replace("\u00a0", " ").split())
