"""Which regular expressions can backtrack catastrophically: a watch rule's expression is
checked when the configuration is read, since on an unlucky text such an expression runs for
hours and stalls the daemon."""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Sequence
from typing import Any

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)
#: Character ranges wider than this count as "any character" when alternatives are compared.
_SMALL_RANGE = 256


def backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` can take exponential time on some texts, or None.

    Refused: inside a part repeated without bound (``+``, ``*``, ``{n,}``), a quantifier of
    variable count (``(a+)+``, ``(a*)*``, ``(\\w+\\s?)+``) or alternatives that can start
    with the same character or match nothing (``(a|aa)+``). Possessive quantifiers and atomic
    groups are never backtracked into, so they are accepted anywhere. The check is cautious:
    a few harmless expressions are refused too, and a possessive rewrite makes them pass.
    """
    return _risk(sre_parse.parse(pattern, re.IGNORECASE), repeated=False)


def _risk(items: Any, *, repeated: bool) -> str | None:
    for op, av in items:
        found: str | None = None
        if op in _REPEATS:
            low, high, body = av
            if repeated and high != low:
                return "a repeated group contains a quantifier (nested quantifiers)"
            found = _risk(body, repeated=repeated or high == sre.MAXREPEAT)
        elif op is sre.SUBPATTERN:
            found = _risk(av[3], repeated=repeated)
        elif op is sre.BRANCH:
            if repeated and _alternatives_overlap(av[1]):
                return "a repeated group has alternatives that can match the same text"
            found = next((r for alt in av[1] if (r := _risk(alt, repeated=repeated))), None)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            found = _risk(av[1], repeated=False)
        elif op is sre.GROUPREF_EXISTS:
            branches = [b for b in av[1:] if b is not None]
            found = next((r for b in branches if (r := _risk(b, repeated=repeated))), None)
        if found:
            return found
    return None


def _alternatives_overlap(alternatives: Sequence[Any]) -> bool:
    seen: set[str] = set()
    for alternative in alternatives:
        first = _first_chars(alternative)
        if first is None or first & seen:
            return True
        seen |= first
    return False


def _first_chars(items: Any) -> set[str] | None:
    """The (case-folded) characters a match of ``items`` can start with; None: any, or it
    can match the empty text."""
    if not len(items):
        return None
    op, av = items[0]
    if op is sre.LITERAL:
        return {chr(av).casefold()}
    if op is sre.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is sre.LITERAL:
                chars.add(chr(value).casefold())
            elif kind is sre.RANGE and value[1] - value[0] <= _SMALL_RANGE:
                chars |= {chr(c).casefold() for c in range(value[0], value[1] + 1)}
            else:
                return None
        return chars
    if op is sre.SUBPATTERN:
        return _first_chars(av[3])
    if op in (*_REPEATS, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _first_chars(av[2])
    return None
