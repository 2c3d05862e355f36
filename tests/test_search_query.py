"""The search query language: parsing into a syntax tree, and rendering for each database."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.dialects import postgresql

from storage.search import AnyOf, Phrase, Query, QueryError, Term, parse, to_fts5, to_tsquery

PARSED = [
    ("nuclear", Query((Term("nuclear"),))),
    ("  Kim   Jong  ", Query((Term("Kim"), Term("Jong")))),
    ('"Kim Jong Un" visit', Query((Phrase("Kim Jong Un"), Term("visit")))),
    ("\u201cKim Jong Un\u201d visit", Query((Phrase("Kim Jong Un"), Term("visit")))),
    ("\u201eKim   Jong Un\u201c", Query((Phrase("Kim Jong Un"),))),
    ("nuclear OR missile", Query((AnyOf((Term("nuclear"), Term("missile"))),))),
    ("a OR b OR c d", Query((AnyOf((Term("a"), Term("b"), Term("c"))), Term("d")))),
    ('a OR "b c"', Query((AnyOf((Term("a"), Phrase("b c"))),))),
    ("or and", Query((Term("or"), Term("and")))),
    ("peace -war", Query((Term("peace"),), (Term("war"),))),
    ('peace -"nuclear war"', Query((Term("peace"),), (Phrase("nuclear war"),))),
    ("nucl*", Query((Term("nucl", prefix=True),))),
    ("Juche* 112", Query((Term("Juche", prefix=True), Term("112")))),
    ("U.S. anti-imperialist", Query((Term("U.S."), Term("anti-imperialist")))),
    ("Kim\u2019s", Query((Term("Kim's"),))),
    ("peace — war", Query((Term("peace"), Term("war")))),
    ("peace -", Query((Term("peace"),))),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_queries_parse(text: str, expected: Query) -> None:
    assert parse(text) == expected


MALFORMED = [
    ("", "empty search query"),
    ("   ", "empty search query"),
    ('"Kim Jong', "unbalanced quote"),
    ("\u201cKim Jong", "unbalanced quote"),
    ('""', "empty phrase"),
    ("OR peace", "OR needs a word"),
    ("peace OR", "OR needs a word"),
    ("peace OR OR war", "OR needs a word"),
    ("peace OR -war", "cannot be one side of OR"),
    ("-war", "nothing to search for"),
    ("-war -peace", "nothing to search for"),
    ("— !!", "nothing to search for"),
    ("*", "prefix (word*) must be letters or digits"),
    ("u.s*", "prefix (word*) must be letters or digits"),
    ("nu*clear", "* may only end a word"),
    ("x" * 1001, "too long"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_queries_are_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as raised:
        parse(text)
    assert "\n" not in str(raised.value)


FTS5 = [
    ("nuclear", '"nuclear"'),
    ('"Kim Jong Un" visit', '"Kim Jong Un" AND "visit"'),
    ("a OR b c", '("a" OR "b") AND "c"'),
    ('peace -war -"x y"', '(("peace") NOT "war") NOT "x y"'),
    ("nucl*", '"nucl" *'),
    ("NEAR(a b) AND NOT", '"NEAR(a" AND "b)" AND "AND" AND "NOT"'),
]


@pytest.mark.parametrize(("text", "expected"), FTS5)
def test_fts5_expressions_quote_every_word(text: str, expected: str) -> None:
    assert to_fts5(parse(text)) == expected


def test_tsquery_binds_every_word() -> None:
    expression = to_tsquery(parse("""a OR "b c" -d e* 'f'; DROP TABLE articles"""))
    compiled = expression.compile(dialect=postgresql.dialect())
    assert "DROP" not in str(compiled)
    assert "b c" not in str(compiled)
    assert set(compiled.params.values()) == {
        "a",
        "b c",
        "d",
        "e:*",
        "'f';",
        "DROP",
        "TABLE",
        "articles",
    }
    assert "!!" in str(compiled) and "||" in str(compiled) and "&&" in str(compiled)
