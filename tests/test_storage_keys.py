"""Identity keys, hashes and the record types' own checks (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from storage.keys import (
    ID_LENGTH,
    article_id,
    content_hash,
    fingerprint,
    identify,
    input_fingerprint,
    normalise,
)
from storage.merge import ArticleState, is_aggregator_url, origin_rank
from storage.records import ArticleInput, FailureInput, RawPage, SaveOutcome
from tests.storage_helpers import T0, make_item, q_url, watch_url


def test_normalise_removes_cosmetic_differences() -> None:
    fancy = "Kim Jong Un’s  “Speech”\u00a0at the\tPlenary—Meeting…\u200b"
    plain = 'kim jong un\'s "speech" at the plenary-meeting...'
    assert normalise(fancy) == normalise(plain) == "kim jong uns speech at the plenarymeeting"
    assert normalise("ＫＣＮＡ　News") == "kcna news"  # NFKC: full-width letters and space
    assert normalise("  Pyongyang,\nMarch 1 (KCNA) -- ") == "pyongyang march 1 kcna"


def test_content_hash_ignores_style_but_not_edits() -> None:
    original = content_hash("The people’s “victory”", "Pyongyang -- It   was\u00a0great.\n-0-")
    copy = content_hash('The people\'s "victory"', "Pyongyang -- It was great. -0-")
    edited = content_hash("The people's victory", "Pyongyang -- It was very great. -0-")
    assert original == copy != edited
    assert content_hash("a b", "c") != content_hash("a", "b c")  # title and text stay apart


def test_fingerprint_includes_the_date() -> None:
    day = date(2026, 3, 1)
    assert fingerprint("T", day, "x") == fingerprint("t", day, "X.")
    assert fingerprint("T", day, "x") != fingerprint("T", date(2026, 3, 2), "x")
    assert fingerprint("T", None, "x") != fingerprint("T", day, "x")


def test_article_id_is_short_stable_hex() -> None:
    item = make_item(1)
    first = article_id(input_fingerprint(item))
    assert first == article_id(fingerprint(item.title, item.published, item.text))
    assert len(first) == ID_LENGTH and int(first, 16) >= 0
    assert first != article_id(input_fingerprint(make_item(2)))


def test_identity_keys_strongest_first() -> None:
    copy = make_item(
        1, url=watch_url(1), canonical_url=q_url(1), source_key="kcnawatch:1700000001-1"
    )
    assert identify(copy).keys == [
        "src:kcnawatch:1700000001-1",
        f"url:{q_url(1)}",
        f"url:{watch_url(1)}",
        f"fp:{input_fingerprint(copy)}",
    ]
    original = make_item(1)
    assert identify(original).keys == [f"url:{q_url(1)}", f"fp:{input_fingerprint(original)}"]


def test_records_reject_naive_times_and_unknown_date_origins() -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(make_item(1), seen_at=naive)
    with pytest.raises(ValueError, match="published_from"):
        replace(make_item(1), published_from="guess")
    with pytest.raises(ValueError, match="timezone-aware"):
        RawPage(q_url(1), b"", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        FailureInput(q_url(1), "timeout", naive)
    with pytest.raises(ValueError, match="url"):
        ArticleInput("", "", "s", "t", "x", None, None, None, T0)


def test_merge_rules_in_memory() -> None:
    assert origin_rank("page-stamp") < origin_rank("listing") < origin_rank("meta-line")
    assert origin_rank("meta-line") < origin_rank("dateline") < origin_rank(None)
    assert is_aggregator_url("https://www.kcnawatch.org/x/", {"kcnawatch.org"})
    assert not is_aggregator_url("http://www.kcna.kp/en/", {"kcnawatch.org"})

    state = ArticleState.create("abcd", make_item(1, categories=("A",)))
    assert state.apply(make_item(1, categories=("B", "A")), {"kcnawatch.org"}) == (
        SaveOutcome.UNCHANGED,
        1,
    )
    assert state.categories == ["A", "B"]
    edited = make_item(1, text="Another text", dateline=None)
    assert state.apply(edited, ()) == (SaveOutcome.CHANGED, 2)
    assert state.dateline == "Pyongyang, March 1 (KCNA)"  # kept when the edit has none
    assert [v["number"] for v in state.new_versions] == [1, 2]
