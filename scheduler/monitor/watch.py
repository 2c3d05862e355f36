"""Watch rules: a regular expression over new and edited articles, and whom to tell.

A rule in the configuration::

    [[watch]]
    name = "missiles"
    match = "missile|ICBM|hypersonic"     # case-insensitive, on title and text
    sources = ["kcna"]                    # optional: only articles seen on these sources
    notify = ["webhook:https://example.org/hook", "log", "email:someone@example.org"]
    max_age = "7d"                        # optional: see below
    event = "gone"                        # optional: only these events (new, edited, gone)

Rules are evaluated on the archive's article events (``new`` and ``edited``) after the
``watch`` cursor. A match is stored once per rule, article and version, in the same
transaction as its notifications and the cursor's move, so a rule fires once per version
whatever the number of runs or restarts, and an edit back to a version already notified
does not notify again. When an article that a rule matched is noticed gone, the rule
notifies a ``gone`` event. ``back`` events notify nothing.

``event`` (one of ``new``, ``edited``, ``gone``, or a list of them) makes a rule notify only
those events, and a ``gone`` chosen so notifies every deletion of an article the rule covers
(its current version matching ``match``, which such a rule may leave out to cover every
article), not only of those it matched before::

    [[watch]]
    name = "deletions"
    event = "gone"
    notify = ["log"]

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
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crawler.sources import SOURCES, known, sources_of
from scheduler.configtypes import (
    ConfigError,
    Section,
    duration,
    each_once,
    listed,
    mistake,
    non_empty,
    show,
)
from scheduler.monitor.backtracking import backtracking_risk
from scheduler.monitor.notify.payloads import GonePayload, MatchPayload
from scheduler.monitor.notify.settings import Targets
from storage.records import ArticleView, MatchInput, MatchView
from storage.repository import Repository

DEFAULT_MAX_AGE = timedelta(days=7)
CURSOR = "watch"
#: Characters of context on each side of the match in a snippet.
SNIPPET_CONTEXT = 80
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _rule_name(value: Any) -> str:
    name = non_empty(value)
    if not _NAME_RE.fullmatch(name):
        raise mistake(
            f'"{name}" is not a rule name (letters, digits, "_", "-" and ".",'
            " starting with a letter or digit, at most 100)"
        )
    return name


def _source(value: Any) -> str:
    if value not in SOURCES:
        raise mistake(f"unknown source {show(value)} (known: {known()})")
    return str(value)


#: The events a rule may choose (``event``).
EVENTS = ("new", "edited", "gone")


def _event(value: Any) -> str:
    if value not in EVENTS:
        raise mistake(f"unknown event {show(value)} (known: {', '.join(EVENTS)})")
    return str(value)


class WatchRule(Section):
    """A ``[[watch]]`` table: which articles to tell about, and whom."""

    header: ClassVar[str] = "[[watch]]"
    needs: ClassVar[str] = "every rule needs name and match"

    name: Annotated[str, BeforeValidator(_rule_name)]
    #: Case-insensitive, on title and text; None (only with ``event``): every article.
    pattern: re.Pattern[str] | None = Field(default=None, alias="match")
    #: The events the rule notifies, each once; empty: new and edited, and gone when matched.
    events: Annotated[
        tuple[Annotated[str, BeforeValidator(_event)], ...],
        listed("an event or a list of events", empty=False),
        BeforeValidator(lambda value: [value] if isinstance(value, str) else value),
        AfterValidator(each_once),
    ] = Field(default=(), alias="event")
    #: Crawl sources (kcna, kcnawatch), each once; empty: any.
    sources: Annotated[
        tuple[Annotated[str, BeforeValidator(_source)], ...],
        listed("a list of sources", empty=False),
        AfterValidator(each_once),
    ] = ()
    notify: Targets = ()
    max_age: Annotated[timedelta | None, duration(positive=True, false_is_none=True)] = (
        DEFAULT_MAX_AGE
    )

    @model_validator(mode="before")
    @classmethod
    def _needs_match(cls, data: Any) -> Any:
        if isinstance(data, dict) and "match" not in data and "event" not in data:
            raise mistake("missing (every rule needs name and match, or an event)", at="match")
        return data

    @field_validator("pattern", mode="before")
    @classmethod
    def _expression(cls, value: Any, info: ValidationInfo) -> re.Pattern[str]:
        if isinstance(value, re.Pattern):
            return value
        if not isinstance(value, str) or not value.strip():
            raise mistake(f"expected a regular expression, got {show(value)}")
        try:
            pattern = re.compile(value, re.IGNORECASE)
        except re.error as error:
            raise mistake(f'bad regular expression "{value}": {error}') from None
        if pattern.search("") is not None:
            raise mistake(f'"{value}" matches the empty text, so every article')
        risk = backtracking_risk(value)
        if risk is not None:
            raise mistake(
                f'rule "{info.data.get("name", "?")}": "{value}" can take exponential time on'
                f" some texts ({risk}); rewrite it, e.g. with a possessive quantifier (a++)"
                " or an atomic group (?>...)"
            )
        return pattern

    def snippet(self, title: str, text: str) -> str | None:
        """The matching passage (the title when only the title matches, or when the rule has
        no expression); None: no match."""
        if self.pattern is None:
            return " ".join(title.split())
        found = self.pattern.search(text)
        if found is not None:
            return make_snippet(text, found.start(), found.end())
        if self.pattern.search(title) is not None:
            return " ".join(title.split())
        return None

    def wants(self, event: str) -> bool:
        """Whether the rule notifies events of this kind (``gone`` by default only for the
        articles it matched before: see :func:`matches_of_event`)."""
        return not self.events or event in self.events

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


def article_sources(article: ArticleView) -> set[str]:
    """The crawl sources whose sites the article was seen on."""
    return sources_of([article.url, *(u.url for u in article.urls)])


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
        number, title, text = article.version(event.version)
        for rule in rules:
            if not rule.wants(event.kind) or not rule.covers(article):
                continue
            if event.kind == "new" and _too_old(rule, article, now):
                continue
            snippet = rule.snippet(title, text)
            if snippet is None:
                continue
            found.append(_match(rule, event, article, number, title, snippet, f"v{number}", now))
    elif event.kind == "gone":
        for rule in rules:
            snippet = rule.snippet(article.title, article.text)
            if rule.events:  # chose its events: every deletion of an article it covers
                if not rule.wants("gone") or not rule.covers(article) or snippet is None:
                    continue
            elif rule.name not in (matched_before or set()):
                continue
            snippet = snippet or ""
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
    names = ", ".join(r.name for r in rules) or "none configured"
    raise ConfigError(f'no watch rule named "{name}" (rules: {names})')
