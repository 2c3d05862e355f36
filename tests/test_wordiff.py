"""Word-level differences: what a reader sees changed between two versions, and that each
side's text comes back exactly from its segments."""

from __future__ import annotations

from itertools import pairwise

import pytest

from scheduler.wordiff import Paragraph, title_diff, word_diff

LEADER = (
    "Respected Comrade Kim Jong Un inspected the institute.\n"
    "He stressed the need to bolster the nuclear deterrent.\n"
    "He was accompanied by officials."
)

#: (name, old, new, expected paragraphs as (kind, segments)).
CASES = [
    (
        "a changed word",
        "The seminar praised the Juche idea.",
        "The seminar lauded the Juche idea.",
        [
            (
                "changed",
                (
                    ("same", "The seminar "),
                    ("del", "praised"),
                    ("ins", "lauded"),
                    ("same", " the Juche idea."),
                ),
            )
        ],
    ),
    (
        "an inserted sentence",
        "The U.S. staged drills. A spokesman said so.",
        "The U.S. staged drills. They were denounced. A spokesman said so.",
        [
            (
                "changed",
                (
                    ("same", "The U.S. staged drills. "),
                    ("ins", "They were denounced. "),
                    ("same", "A spokesman said so."),
                ),
            )
        ],
    ),
    (
        "a deleted paragraph",
        LEADER,
        LEADER.replace("He stressed the need to bolster the nuclear deterrent.\n", ""),
        [
            ("same", (("same", "Respected Comrade Kim Jong Un inspected the institute."),)),
            ("del", (("del", "He stressed the need to bolster the nuclear deterrent."),)),
            ("same", (("same", "He was accompanied by officials."),)),
        ],
    ),
    (
        "punctuation attached to words",
        "The launch was a warning, he said.",
        "The launch was a warning. He said.",
        [
            (
                "changed",
                (
                    ("same", "The launch was a "),
                    ("del", "warning, he"),
                    ("ins", "warning. He"),
                    ("same", " said."),
                ),
            )
        ],
    ),
    (
        "identical texts",
        "One.\nTwo.",
        "One.\nTwo.",
        [("same", (("same", "One."),)), ("same", (("same", "Two."),))],
    ),
    ("empty old", "", "New.\nText.", [("ins", (("ins", "New."),)), ("ins", (("ins", "Text."),))]),
    ("empty new", "Old.", "", [("del", (("del", "Old."),))]),
    ("both empty", "", "", []),
    (
        "unicode: curly quotes and Korean names",
        "\u201c\uae40\uc815\uc740\u201d visited Pyongyang.",
        "\u201c\uae40\uc815\uc740 \ub3d9\uc9c0\u201d visited Pyongyang.",
        [
            (
                "changed",
                (
                    ("del", "\u201c\uae40\uc815\uc740\u201d"),
                    ("ins", "\u201c\uae40\uc815\uc740 \ub3d9\uc9c0\u201d"),
                    ("same", " visited Pyongyang."),
                ),
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_word_diff(
    old: str, new: str, expected: list[tuple[str, tuple[tuple[str, str], ...]]]
) -> None:
    assert [(p.kind, p.segments) for p in word_diff(old, new)] == expected


def test_a_changed_word_in_a_title() -> None:
    assert title_diff("Kim Jong Un Inspects Institute", "Kim Jong Un Visits Institute") == [
        ("same", "Kim Jong Un "),
        ("del", "Inspects"),
        ("ins", "Visits"),
        ("same", " Institute"),
    ]
    assert title_diff("Same title", "Same title") == [("same", "Same title")]
    assert title_diff("", "New title") == [("ins", "New title")]


def test_a_rewritten_paragraph_is_one_change_not_a_comb() -> None:
    (paragraph,) = word_diff("a b c d", "w x y z")
    assert paragraph.segments == (("del", "a b c d"), ("ins", "w x y z"))


def test_changed_whitespace_is_kept_on_each_side() -> None:
    (paragraph,) = word_diff("two  spaces here", "two spaces here")
    assert paragraph.old == "two  spaces here"
    assert paragraph.new == "two spaces here"


#: Corpus-like pairs: edits a publisher makes (retyped names, a dropped sentence, a moved
#: paragraph, a no-break space, trailing blank lines).
SAMPLES = [
    (LEADER, LEADER.replace("officials", "senior officials of the Party Central Committee")),
    (LEADER, "Pyongyang, March 1 (KCNA) -- " + LEADER),
    (LEADER, "\n".join(reversed(LEADER.split("\n")))),
    (LEADER, LEADER.replace("Kim Jong Un", "Kim\u00a0Jong\u00a0Un") + "\n\n"),
    ("Juche 112 (2023)\n\nThe idea.", "Juche 112 (2023).\nThe great idea!\n\n"),
    (
        "\u2018Workers\u2019 Party\u2019 of Korea",
        "Workers' Party of Korea \uc870\uc120\ub85c\ub3d9\ub2f9",
    ),
    ("  leading spaces\ttabs  ", "leading spaces tabs"),
    ("", LEADER),
    (LEADER, ""),
]


def _side(paragraphs: list[Paragraph], old: bool) -> str:
    texts = [p.old if old else p.new for p in paragraphs]
    return "\n".join(t for t in texts if t is not None)


@pytest.mark.parametrize(("old", "new"), SAMPLES)
def test_each_side_comes_back_from_its_segments(old: str, new: str) -> None:
    for before, after in ((old, new), (new, old)):
        paragraphs = word_diff(before, after)
        assert _side(paragraphs, old=True) == before
        assert _side(paragraphs, old=False) == after
        for paragraph in paragraphs:
            assert all(text for _, text in paragraph.segments)
            ops = [op for op, _ in paragraph.segments]
            assert all(a != b for a, b in pairwise(ops))
        line = title_diff(before.replace("\n", " "), after.replace("\n", " "))
        assert "".join(t for op, t in line if op != "ins") == before.replace("\n", " ")
        assert "".join(t for op, t in line if op != "del") == after.replace("\n", " ")
