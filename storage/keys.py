"""Article identity: text normalisation, content hashes, fingerprints and ids.

The same article reaches the archive under several URLs and through copies (KCNA Watch
copies kcna.kp articles), with cosmetic differences: curly or straight quotes, dash styles,
non-breaking spaces, spacing. Everything here hashes a *normalised* form of the text so such
differences neither split one article in two nor count as an edit.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
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


#: The pairs of ``_CHAR_MAP`` as strings: no replacement holds a replaced character, so
#: replacing them one after the other is the same as ``str.translate(_CHAR_MAP)``.
_COSMETIC = tuple((chr(code), new or "") for code, new in _CHAR_MAP.items())


def _plain(text: str) -> str:
    """``text.translate(_CHAR_MAP)``, fast: ``str.translate`` pays a ``KeyError`` for every
    character a dict lacks, while a text holds few of the cosmetic characters, if any."""
    for char, new in _COSMETIC:
        if char in text:
            text = text.replace(char, new)
    return text


class _PunctuationTable(dict[int, int | None]):
    """A ``str.translate`` table deleting Unicode punctuation (categories ``P*``) and turning
    every whitespace character (what ``\\s`` matches in a str pattern) into a plain space.

    Filled as characters are met: each character is looked up once per process (the answer
    is stored), not once per occurrence, and ``str.translate`` never pays a ``KeyError``.
    """

    def __missing__(self, code: int) -> int | None:
        char = chr(code)
        if unicodedata.category(char).startswith("P"):
            answer = None
        else:
            answer = _SPACE if char.isspace() else code
        self[code] = answer
        return answer


_SPACE = ord(" ")
_PUNCTUATION = _PunctuationTable()


def normalise(text: str) -> str:
    """Text reduced to what identifies it: NFKC, ASCII quotes and dashes, lower case,
    no punctuation, single spaces, no leading or trailing space."""
    text = unicodedata.normalize("NFKC", _plain(text)).lower().translate(_PUNCTUATION)
    while "  " in text:  # collapse runs of spaces (cheaper than split and join)
        text = text.replace("  ", " ")
    return text.strip(" ")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def content_hash(title: str, text: str) -> str:
    """Hash of the normalised title and text: equal for cosmetic variants, different for edits."""
    return _content_hash(normalise(title), normalise(text))


def fingerprint(title: str, published: date | None, text: str) -> str:
    """Hash identifying an article by its content and publication date."""
    return _fingerprint(normalise(title), published, normalise(text))


def _content_hash(title: str, text: str) -> str:
    return _digest("content", title, text)


def _fingerprint(title: str, published: date | None, text: str) -> str:
    day = published.isoformat() if published else ""
    return _digest("fingerprint", title, day, text)


def article_id(first_fingerprint: str) -> str:
    """The article id derived from the fingerprint of the first version seen.

    Deterministic, so two processes meeting the same new article choose the same id.
    """
    return hashlib.sha256(first_fingerprint.encode("ascii")).hexdigest()[:ID_LENGTH]


def input_fingerprint(item: ArticleInput) -> str:
    """The fingerprint of one input."""
    return fingerprint(item.title, item.published, item.text)


def _identity_keys(item: ArticleInput, item_fingerprint: str) -> list[str]:
    """The keys that recognise an input's article, strongest first, without duplicates:
    ``src:<source_key>`` (the site's own id), ``url:<canonical_url>``, ``url:<url>`` and
    ``fp:<fingerprint>``."""
    keys = []
    if item.source_key:
        keys.append(f"src:{item.source_key}")
    keys.append(f"url:{item.canonical_url}")
    keys.append(f"url:{item.url}")
    keys.append(f"fp:{item_fingerprint}")
    return list(dict.fromkeys(keys))


@dataclass(frozen=True, slots=True)
class Identity:
    """What recognises one input, computed once: its identity keys, the fingerprint
    (:func:`input_fingerprint`) and the :func:`content_hash` of its title and text."""

    keys: list[str]
    fingerprint: str
    content_hash: str


def identify(item: ArticleInput) -> Identity:
    """An input's :class:`Identity`, normalising its title and text once for all three."""
    title, text = normalise(item.title), normalise(item.text)
    item_fingerprint = _fingerprint(title, item.published, text)
    return Identity(
        keys=_identity_keys(item, item_fingerprint),
        fingerprint=item_fingerprint,
        content_hash=_content_hash(title, text),
    )
