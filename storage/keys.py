"""Article identity: text normalisation, content hashes, fingerprints and ids.

The same article reaches the archive under several URLs and through copies (KCNA Watch
copies kcna.kp articles), with cosmetic differences: curly or straight quotes, dash styles,
non-breaking spaces, spacing. Everything here hashes a *normalised* form of the text so such
differences neither split one article in two nor count as an edit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date

from storage.records import ArticleInput

#: Number of hex characters of an article id.
ID_LENGTH = 16

_CHAR_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
        # Invisible characters that copy-and-paste adds or removes.
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
        "\u00ad": None,
    }
)
_SPACES = re.compile(r"\s+")


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def normalise(text: str) -> str:
    """Text reduced to what identifies it: NFKC, ASCII quotes and dashes, lower case,
    no punctuation, single spaces, no leading or trailing space."""
    text = unicodedata.normalize("NFKC", text.translate(_CHAR_MAP)).lower()
    text = "".join(c for c in text if not _is_punctuation(c))
    return _SPACES.sub(" ", text).strip()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def content_hash(title: str, text: str) -> str:
    """Hash of the normalised title and text: equal for cosmetic variants, different for edits."""
    return _digest("content", normalise(title), normalise(text))


def fingerprint(title: str, published: date | None, text: str) -> str:
    """Hash identifying an article by its content and publication date."""
    day = published.isoformat() if published else ""
    return _digest("fingerprint", normalise(title), day, normalise(text))


def article_id(first_fingerprint: str) -> str:
    """The article id derived from the fingerprint of the first version seen.

    Deterministic, so two processes meeting the same new article choose the same id.
    """
    return hashlib.sha256(first_fingerprint.encode("ascii")).hexdigest()[:ID_LENGTH]


def input_fingerprint(item: ArticleInput) -> str:
    """The fingerprint of one input."""
    return fingerprint(item.title, item.published, item.text)


def identity_keys(item: ArticleInput) -> list[str]:
    """The keys that recognise an input's article, strongest first, without duplicates.

    ``src:<source_key>`` (the site's own id), ``url:<canonical_url>``, ``url:<url>`` and
    ``fp:<fingerprint>``.
    """
    keys = []
    if item.source_key:
        keys.append(f"src:{item.source_key}")
    keys.append(f"url:{item.canonical_url}")
    keys.append(f"url:{item.url}")
    keys.append(f"fp:{input_fingerprint(item)}")
    return list(dict.fromkeys(keys))
