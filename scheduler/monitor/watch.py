"""Watch rules: a regular expression over new and edited articles, and whom to tell.

A rule in the configuration::

    [[watch]]
    name = "missiles"
    match = "missile|ICBM|hypersonic"     # case-insensitive, on title and text
    sources = ["kcna"]                    # optional: only articles seen on these sources
    notify = ["webhook:https://example.org/hook", "log", "email:someone@example.org"]
    max_age = "7d"                        # optional: see below

Rules are evaluated on the archive's article events (``new`` and ``edited``) after the
``watch`` cursor. A match is stored once per rule, article and version, in the same
transaction as its notifications and the cursor's move, so a rule fires once per version
whatever the number of runs or restarts, and an edit back to a version already notified
does not notify again. When an article that a rule matched is noticed gone, the rule
notifies a ``gone`` event. ``back`` events notify nothing.

``max_age`` (default 7 days; ``false`` for no limit) keeps a backfill of old articles from
flooding the notifiers: a ``new`` article published longer than that before it was stored is
not notified (edits and disappearances always are; undated articles always are).

A rule whose expression can backtrack catastrophically (an unbounded repetition of a part
that itself repeats, as in ``(a+)+``, or whose alternatives can start alike, as in
``(a|aa)+``) is refused when the configuration is read (:func:`backtracking_risk`): on an
unlucky text such an expression runs for hours and stalls the daemon. A possessive
quantifier (``a++``) or an atomic group (``(?>...)``) says the same without the risk.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from scheduler.configcheck import (
    WatchConfigError,
    check_keys,
    duration,
    show,
    string,
)
from scheduler.monitor.notify.payloads import GonePayload, MatchPayload
from scheduler.monitor.notify.settings import parse_targets
from storage.records import ArticleView, MatchInput, MatchView
from storage.repository import Repository

RULE_KEYS = ("match", "max_age", "name", "notify", "sources")
DEFAULT_MAX_AGE = timedelta(days=7)
CURSOR = "watch"
#: Characters of context on each side of the match in a snippet.
SNIPPET_CONTEXT = 80
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class WatchRule:
    name: str
    pattern: re.Pattern[str]
    sources: tuple[str, ...] = ()  # crawl sources (kcna, kcnawatch); empty: any
    notify: tuple[str, ...] = ()
    max_age: timedelta | None = DEFAULT_MAX_AGE

    def snippet(self, title: str, text: str) -> str | None:
        """The matching passage (the title when only the title matches); None: no match."""
        found = self.pattern.search(text)
        if found is not None:
            return make_snippet(text, found.start(), found.end())
        if self.pattern.search(title) is not None:
            return " ".join(title.split())
        return None

    def covers(self, article: ArticleView) -> bool:
        """Whether the article was seen on one of the rule's sources (any when none given)."""
        return not self.sources or bool(article_sources(article) & set(self.sources))


def make_snippet(text: str, start: int, end: int, context: int = SNIPPET_CONTEXT) -> str:
    """The match with some context, cut at word boundaries, whitespace collapsed."""
    left = max(0, start - context)
    right = min(len(text), end + context)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else left
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space != -1 else right
    passage = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + passage + ("…" if right < len(text) else "")


def source_hosts() -> dict[str, frozenset[str]]:
    from scheduler.crawl.options import SPIDERS

    return {name: spider.public_hosts for name, spider in SPIDERS.items()}


def article_sources(article: ArticleView) -> set[str]:
    """The crawl sources whose sites the article was seen on."""
    hosts = {(urlsplit(u.url).hostname or "").lower() for u in article.urls}
    hosts.add((urlsplit(article.url).hostname or "").lower())
    return {name for name, own in source_hosts().items() if hosts & own}


# -- configuration -----------------------------------------------------------------------

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


def parse_watch(raw: Any, *, smtp: bool = False) -> list[WatchRule]:
    """The rules of the ``[[watch]]`` tables; ``smtp`` says whether ``[smtp]`` is set (an
    ``email:`` target needs it). Raises :class:`WatchConfigError`."""
    from scheduler.crawl.options import SPIDERS

    if raw is None:
        return []
    if not isinstance(raw, list):
        raise WatchConfigError(f"watch: expected [[watch]] tables, got {show(raw)}")
    rules: list[WatchRule] = []
    seen: set[str] = set()
    for index, table in enumerate(raw):
        where = f"watch[{index}]"
        if not isinstance(table, dict):
            raise WatchConfigError(f"{where}: expected a table ([[watch]]), got {show(table)}")
        check_keys(table, where, RULE_KEYS)
        for key in ("name", "match"):
            if key not in table:
                raise WatchConfigError(f"{where}.{key}: missing (every rule needs name and match)")
        name = string(table["name"], f"{where}.name")
        if not _NAME_RE.fullmatch(name):
            raise WatchConfigError(
                f'{where}.name: "{name}" is not a rule name (letters, digits, "_", "-" and ".",'
                " starting with a letter or digit, at most 100)"
            )
        if name in seen:
            raise WatchConfigError(f'{where}.name: another rule is named "{name}" already')
        seen.add(name)
        pattern_text = table["match"]
        if not isinstance(pattern_text, str) or not pattern_text.strip():
            raise WatchConfigError(
                f"{where}.match: expected a regular expression, got {show(pattern_text)}"
            )
        try:
            pattern = re.compile(pattern_text, re.IGNORECASE)
        except re.error as error:
            raise WatchConfigError(
                f'{where}.match: bad regular expression "{pattern_text}": {error}'
            ) from None
        if pattern.search("") is not None:
            raise WatchConfigError(
                f'{where}.match: "{pattern_text}" matches the empty text, so every article'
            )
        risk = backtracking_risk(pattern_text)
        if risk is not None:
            raise WatchConfigError(
                f'{where}.match: rule "{name}": "{pattern_text}" can take exponential time on'
                f" some texts ({risk}); rewrite it, e.g. with a possessive quantifier (a++)"
                " or an atomic group (?>...)"
            )
        sources: tuple[str, ...] = ()
        if "sources" in table:
            value = table["sources"]
            if not isinstance(value, list) or not value:
                raise WatchConfigError(
                    f"{where}.sources: expected a list of sources, got {show(value)}"
                )
            for position, source in enumerate(value):
                if source not in SPIDERS:
                    raise WatchConfigError(
                        f"{where}.sources[{position}]: unknown source {show(source)}"
                        f" (known: {', '.join(sorted(SPIDERS))})"
                    )
            sources = tuple(dict.fromkeys(value))
        notify = parse_targets(table.get("notify", []), f"{where}.notify", smtp=smtp)
        max_age: timedelta | None = DEFAULT_MAX_AGE
        if "max_age" in table:
            value = table["max_age"]
            max_age = None if value is False else duration(value, f"{where}.max_age")
        rules.append(WatchRule(name, pattern, sources, notify, max_age))
    return rules


# -- evaluation --------------------------------------------------------------------------


def payload(
    rule: str,
    event: str,
    article: ArticleView,
    *,
    version: int,
    title: str,
    snippet: str,
    at: datetime,
) -> MatchPayload | GonePayload:
    """What a notification of a watch match carries (``event``: new, edited or gone)."""
    fields: dict[str, Any] = {
        "rule": rule,
        "article_id": article.id,
        "version": version,
        "title": title,
        "url": article.url,
        "published": article.published,
        "source": article.source,
        "snippet": snippet,
        "at": at,
    }
    if event == "gone":
        return GonePayload(**fields)
    return MatchPayload(edited=event == "edited", **fields)


def _version(article: ArticleView, number: int | None) -> tuple[int, str, str]:
    """(number, title, text) of the article's version ``number`` (else its current one)."""
    for version in article.history:
        if version.number == number:
            return version.number, version.title, version.text
    return article.versions, article.title, article.text


def _too_old(rule: WatchRule, article: ArticleView, at: datetime) -> bool:
    if rule.max_age is None or article.published is None:
        return False
    return (at.date() - article.published) > rule.max_age


def matches_of_event(
    event: Any,
    article: ArticleView,
    rules: Sequence[WatchRule],
    *,
    matched_before: set[str] | None = None,
    now: datetime,
) -> list[MatchInput]:
    """The matches one article event gives (``matched_before``: for a ``gone`` event, the
    rules that matched the article earlier)."""
    found: list[MatchInput] = []
    if event.kind in ("new", "edited"):
        number, title, text = _version(article, event.version)
        for rule in rules:
            if not rule.covers(article) or (event.kind == "new" and _too_old(rule, article, now)):
                continue
            snippet = rule.snippet(title, text)
            if snippet is None:
                continue
            found.append(_match(rule, event, article, number, title, snippet, f"v{number}", now))
    elif event.kind == "gone":
        for rule in rules:
            if rule.name not in (matched_before or set()):
                continue
            snippet = rule.snippet(article.title, article.text) or ""
            found.append(
                _match(
                    rule,
                    event,
                    article,
                    article.versions,
                    article.title,
                    snippet,
                    f"gone:{event.id}",
                    now,
                )
            )
    return found


def _match(
    rule: WatchRule,
    event: Any,
    article: ArticleView,
    number: int,
    title: str,
    snippet: str,
    dedup: str,
    now: datetime,
) -> MatchInput:
    return MatchInput(
        rule=rule.name,
        article_id=article.id,
        version=number,
        event=event.kind,
        dedup=dedup,
        event_id=event.id,
        title=title,
        url=article.url,
        published=article.published,
        snippet=snippet,
        matched_at=now,
        targets=rule.notify,
        payload=payload(
            rule.name,
            event.kind,
            article,
            version=number,
            title=title,
            snippet=snippet,
            at=event.at,
        ).to_json(),
    )


#: Events below the cursor read again by each evaluation (see :func:`evaluate`).
RESCAN = 200


def evaluate(
    repo: Repository,
    rules: Sequence[WatchRule],
    now: datetime,
    *,
    cursor: str = CURSOR,
    batch: int = 500,
) -> list[MatchView]:
    """Evaluate the rules on every article event after the cursor; store the matches and
    queue their notifications, moving the cursor with them. Returns the new matches.

    The last :data:`RESCAN` events before the cursor are read again: on PostgreSQL an event id
    is handed out when its row is inserted, not when its transaction commits, so an event of a
    concurrent writer can appear below the cursor after it moved. Matches are unique per rule,
    article and version, so reading an event twice never notifies twice.
    """
    after = max(0, (repo.outbox.cursor(cursor) or 0) - RESCAN)
    stored: list[MatchView] = []
    while True:
        events = repo.articles.events_after(after, limit=batch)
        if not events:
            return stored
        articles: dict[str, ArticleView | None] = {}
        matches: list[MatchInput] = []
        for event in events:
            if event.kind not in ("new", "edited", "gone") or not rules:
                continue
            if event.article_id not in articles:
                articles[event.article_id] = repo.articles.get(event.article_id)
            article = articles[event.article_id]
            if article is None:
                continue
            before = repo.outbox.matched_rules(article.id) if event.kind == "gone" else None
            matches.extend(matches_of_event(event, article, rules, matched_before=before, now=now))
        after = events[-1].id
        stored.extend(repo.outbox.record_matches(matches, cursor=cursor, event_id=after, at=now))
        if len(events) < batch:
            return stored


def stored_matches(
    articles: Iterable[ArticleView], rule: WatchRule
) -> Iterator[tuple[ArticleView, str]]:
    """The stored articles the rule matches now (current versions), with their snippets."""
    for article in articles:
        if not rule.covers(article):
            continue
        snippet = rule.snippet(article.title, article.text)
        if snippet is not None:
            yield article, snippet


def find_rule(rules: Sequence[WatchRule], name: str) -> WatchRule:
    for rule in rules:
        if rule.name == name:
            return rule
    known = ", ".join(r.name for r in rules) or "none configured"
    raise WatchConfigError(f'no watch rule named "{name}" (rules: {known})')
