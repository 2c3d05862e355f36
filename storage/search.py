"""The search query language, parsed into a small syntax tree and rendered for each database.

The language, the same on SQLite and PostgreSQL:

- ``word word``: every word must appear (in the title or the text);
- ``"exact phrase"``: the words in this order (curly quotes work as straight ones);
- ``a OR b``: either (``OR`` in capitals; it binds tighter than the implicit AND);
- ``-word`` or ``-"a phrase"``: must not appear;
- ``prefix*``: any word starting with ``prefix`` (letters and digits only).

:func:`parse` turns the user's text into a :class:`Query` or raises :class:`QueryError` with
a one-line message. :func:`to_fts5` renders a query as an FTS5 ``MATCH`` expression (every
word and phrase a quoted FTS5 string: the user's text is never FTS5 syntax, and the whole
expression is bound as one parameter); :func:`to_tsquery` renders it as a PostgreSQL
``tsquery`` expression whose every word is a bound parameter. Nothing here touches a
database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, func, literal_column
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

#: The text search configuration of the PostgreSQL index (stemming as SQLite's porter).
PG_CONFIG = "english"
#: Quote characters read as a straight double quote.
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\uff02"
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032"
_QUOTES = str.maketrans(
    {**dict.fromkeys(_DOUBLE_QUOTES, '"'), **dict.fromkeys(_SINGLE_QUOTES, "'")}
)
_TOKEN = re.compile(r'\s*(-?)(?:"([^"]*)"|([^\s"]+))')
_WORDLIKE = re.compile(r"[^\W_]")
_PREFIX = re.compile(r"[^\W_]+")
#: Longest query accepted, in characters.
MAX_QUERY = 1000


class QueryError(ValueError):
    """A search query that cannot be understood; the message is one line for the user."""


@dataclass(frozen=True)
class Term:
    """A word (``prefix``: any word starting with it)."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words that must appear together, in this order."""

    text: str


Atom = Term | Phrase


@dataclass(frozen=True)
class AnyOf:
    """At least one of the options must appear."""

    options: tuple[Atom, ...]


Clause = Atom | AnyOf


@dataclass(frozen=True)
class Query:
    """Every clause of ``required`` must match and no atom of ``excluded`` may."""

    required: tuple[Clause, ...]
    excluded: tuple[Atom, ...] = ()


def normalise_quotes(text: str) -> str:
    """``text`` with curly and other typographic quotes made straight."""
    return text.translate(_QUOTES)


def parse(text: str) -> Query:
    """The query the user typed, or :class:`QueryError` saying what is wrong with it."""
    text = normalise_quotes(text).strip()
    if not text:
        raise QueryError("empty search query: give at least one word")
    if len(text) > MAX_QUERY:
        raise QueryError(f"search query too long ({len(text)} characters, at most {MAX_QUERY})")
    if text.count('"') % 2:
        raise QueryError('unbalanced quote in the search query: close the "phrase"')
    required: list[Clause] = []
    excluded: list[Atom] = []
    pending_or = False
    for negated, atom, is_or in _tokens(text):
        if is_or:
            if not required or pending_or:
                raise QueryError("OR needs a word or phrase on each side")
            pending_or = True
            continue
        if atom is None:
            continue  # punctuation only: nothing to search for
        if negated:
            if pending_or:
                raise QueryError("an excluded word (-word) cannot be one side of OR")
            excluded.append(atom)
        elif pending_or:
            required[-1] = _either(required[-1], atom)
            pending_or = False
        else:
            required.append(atom)
    if pending_or:
        raise QueryError("OR needs a word or phrase on each side")
    if not required:
        raise QueryError("nothing to search for: give at least one word that must appear")
    return Query(tuple(required), tuple(excluded))


def _tokens(text: str) -> list[tuple[bool, Atom | None, bool]]:
    """(negated, atom, is OR) for each token; the atom is None for punctuation."""
    tokens: list[tuple[bool, Atom | None, bool]] = []
    for match in _TOKEN.finditer(text):
        negated, phrase, word = bool(match.group(1)), match.group(2), match.group(3)
        if phrase is not None:
            words = " ".join(phrase.split())
            if not _WORDLIKE.search(words):
                raise QueryError("empty phrase in the search query: put words between the quotes")
            tokens.append((negated, Phrase(words), False))
        elif word == "OR" and not negated:
            tokens.append((False, None, True))
        else:
            tokens.append((negated, _word(word), False))
    return tokens


def _word(word: str) -> Term | None:
    if word.endswith("*"):
        stem = word.rstrip("*")
        if not _PREFIX.fullmatch(stem):
            raise QueryError(
                f"cannot search for {word!r}: a prefix (word*) must be letters or digits"
            )
        return Term(stem, prefix=True)
    if "*" in word:
        raise QueryError(f"cannot search for {word!r}: * may only end a word (prefix*)")
    return Term(word) if _WORDLIKE.search(word) else None


def _either(left: Clause, right: Atom) -> AnyOf:
    options = left.options if isinstance(left, AnyOf) else (left,)
    return AnyOf((*options, right))


# -- SQLite FTS5 ---------------------------------------------------------------------------


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts5_atom(atom: Atom) -> str:
    if isinstance(atom, Term) and atom.prefix:
        return _fts5_string(atom.text) + " *"
    return _fts5_string(atom.text)


def _fts5_clause(clause: Clause) -> str:
    if isinstance(clause, AnyOf):
        return "(" + " OR ".join(_fts5_atom(o) for o in clause.options) + ")"
    return _fts5_atom(clause)


def to_fts5(query: Query) -> str:
    """``query`` as an FTS5 ``MATCH`` expression (to bind as a parameter)."""
    expression = " AND ".join(_fts5_clause(c) for c in query.required)
    for atom in query.excluded:
        expression = f"({expression}) NOT {_fts5_atom(atom)}"
    return expression


# -- PostgreSQL tsquery --------------------------------------------------------------------


def _config() -> ColumnElement[object]:
    return literal_column(f"'{PG_CONFIG}'::regconfig")


def _pg_atom(atom: Atom) -> ColumnElement[object]:
    if isinstance(atom, Phrase):
        return func.phraseto_tsquery(_config(), bindparam(None, atom.text), type_=TSQUERY)
    if atom.prefix:  # letters and digits only: a single lexeme, never tsquery syntax
        return func.to_tsquery(_config(), bindparam(None, atom.text + ":*"), type_=TSQUERY)
    return func.websearch_to_tsquery(_config(), bindparam(None, atom.text), type_=TSQUERY)


def _pg_clause(clause: Clause) -> ColumnElement[object]:
    if isinstance(clause, AnyOf):
        parts = [_pg_atom(o) for o in clause.options]
        either = parts[0]
        for part in parts[1:]:
            either = either.op("||", return_type=TSQUERY)(part)
        return either.self_group()
    return _pg_atom(clause)


def to_tsquery(query: Query) -> ColumnElement[object]:
    """``query`` as a PostgreSQL ``tsquery`` expression, every word a bound parameter."""
    expression = _pg_clause(query.required[0])
    for clause in query.required[1:]:
        expression = expression.op("&&", return_type=TSQUERY)(_pg_clause(clause))
    for atom in query.excluded:
        negated = UnaryExpression(_pg_atom(atom), operator=custom_op("!!"), type_=TSQUERY)
        expression = expression.op("&&", return_type=TSQUERY)(negated)
    return expression
