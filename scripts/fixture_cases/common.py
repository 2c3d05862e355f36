"""What every layout's cases share: the inputs, the expected values computed from them, and
the writing of one case folder.

Expected values are derived from the *input* (the corpus record, the seed text, the listing
entries), never from the extractor's output.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures"
KCNA = "http://www.kcna.kp"
WATCH = "https://kcnawatch.org"
KCNA_EN = "KCNA.kp (En)"
CORPUS = Path("corpus") / "kcna-en-2024.jsonl"
SEED = Path("seeds") / "000_53defad97443eaf6.txt"

# Corpus records used, by title (the corpus holds each article under several URLs).
PICKS = {
    "kuwait": "Respected Comrade Kim Jong Un Receives Greetings from Kuwaiti Emir",
    "wreath": "Respected Comrade Kim Jong Un Sends Wreath to Friendship Tower",
    "farmers": "Chairman Kim Jong Il Pays Deep Attention to Farmers' Life",
    "anoraks": "Fine Padded Anoraks for Farmers",
    "chinese": "Chinese Delegation Leaves Pyongyang",
    "united_russia": "Respected Comrade Kim Jong Un Receives Greetings from President of United "
    "Russia Party",
    "camping": "Meeting of DPRK and Russian Schoolchildren's Camping Groups Held",
    "helicopters": "KPA Air Force Helicopters Conclude Rescue Operation in Kim Jong Suk County "
    "of Ryanggang Province",
    "japan": "Japan's Discharge of Nuclear-polluted Water Is Crime: KCNA Commentary",
    "floral": "Respected Comrade Kim Jong Un Receives Floral Baskets from Abroad",
    "charge": "Reception Given by Russian Charge d'Affaires ad Interim",
    "farm_machines": "Farm Machines Conveyed to Ogye Farm",
    "women": "Chairman Kim Jong Il's Loving Care for Improving Working Conditions of Women",
    "modernization": "Standard of Modernization Taught by Respected Comrade Kim Jong Un",
    "school": "Site for School Chosen Personally by President Kim Il Sung",
}


# --- inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """The shared folder's material: corpus records by title, the seed dump, real pages."""

    by_title: dict[str, dict[str, Any]]
    seed: str
    real: Path

    def rec(self, key: str) -> dict[str, Any]:
        """The corpus record picked as ``key`` (see ``PICKS``)."""
        return self.by_title[PICKS[key]]

    def real_page(self, name: str) -> bytes:
        return (self.real / name).read_bytes()


def load_inputs(shared: Path) -> Inputs:
    """The inputs from ``shared`` (the folder holding corpus/, seeds/ and real-pages/)."""
    corpus = (shared / CORPUS).read_text(encoding="utf-8")
    records = [json.loads(line) for line in corpus.splitlines()]
    by_title: dict[str, dict[str, Any]] = {}
    for record in records:
        by_title.setdefault(title_of(record), clean_rec(record))
    seed = (shared / SEED).read_text(encoding="utf-8")
    return Inputs(by_title=by_title, seed=seed, real=shared / "real-pages")


# --- expected values, computed from the input --------------------------------------------------


def norm(text: str) -> str:
    return " ".join(text.split())


def title_of(rec: dict[str, Any]) -> str:
    """The corpus title without the listing date that leaked into some of them."""
    return norm(rec["title"].split("\n")[0])


def expected_text(rec: dict[str, Any], *, curly: bool = False) -> str:
    lines = [norm(line) for line in rec["text"].split("\n") if line.strip()]
    lines[-1] = re.sub(r"\s*-0-$", "", lines[-1])
    text = "\n".join(line for line in lines if line)
    return re.sub(r"(?<=\w)'(?=\w)", "\u2019", text) if curly else text


def expected_dateline(rec: dict[str, Any]) -> str | None:
    first = norm(rec["text"].split("\n")[0])
    match = re.match(r"^(.+? \(KCNA\)) ?--", first)
    return match.group(1) if match else None


def article(rec: dict[str, Any], url: str, **fields: Any) -> dict[str, Any]:
    record = {
        "url": url,
        "canonical_url": url,
        "source": KCNA_EN,
        "title": title_of(rec),
        "text": expected_text(rec),
        "published": rec["published"],
        "published_from": "page-stamp",
        "dateline": expected_dateline(rec),
        "categories": [],
        "source_key": None,
        "related": [],
    }
    record.update(fields)
    return {"kind": "article", "record": record}


def listing(url: str, entries: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    data = {
        "url": url,
        "entries": entries,
        "next_pages": [],
        "category": None,
        "current_page": None,
        "page_count": None,
    }
    data.update(fields)
    return {"kind": "listing", "listing": data}


def entry(url: str, title: str, published: str | None, teaser: str | None = None) -> dict:
    return {"url": url, "title": title, "published": published, "teaser": teaser}


def clean_rec(rec: dict[str, Any]) -> dict[str, Any]:
    return {**rec, "title": title_of(rec)}


# --- writing -------------------------------------------------------------------------------------


def write_case(
    layout: str,
    name: str,
    url: str,
    page: str | bytes,
    expected: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> None:
    folder = OUT / layout / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "page.html").write_bytes(page if isinstance(page, bytes) else page.encode("utf-8"))
    (folder / "url.txt").write_text(url + "\n", encoding="utf-8")
    dump = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    (folder / "expected.json").write_text(dump, encoding="utf-8")
    if context:
        dump = json.dumps(context, indent=2, ensure_ascii=False) + "\n"
        (folder / "context.json").write_text(dump, encoding="utf-8")
