"""``/sources``: what ``status --json`` reports, as a page; ``/watch``: the watch rules and
the articles they matched lately.

Notification targets carry secrets (tokens in Apprise URLs, webhook URLs, addresses): a page
names only their kind, never the target itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from scheduler.monitor.watch import WatchRule
from scheduler.web.context import context_of
from scheduler.web.pages.common import render

#: Recent matches shown on the watch page.
RECENT_MATCHES = 50
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def sources_page(request: Request) -> Response:
    context = context_of(request)
    report = context.shared.get("/sources", context.status)
    return render(request, "sources.html", report=report)


def target_kind(target: str) -> str:
    """What kind of notification target ``target`` is, without a word of its address:
    ``log``, ``webhook``, ``email``, ``apprise: SCHEME`` (``apprise`` when the URL is in an
    environment variable)."""
    if target == "log":
        return "log"
    kind = target.partition(":")[0]
    if kind in ("webhook", "email"):
        return kind
    scheme = _SCHEME.match(target)
    return f"apprise: {scheme.group(1).lower()}" if scheme else "apprise"


@dataclass(frozen=True)
class RuleView:
    """A watch rule as the page shows it."""

    name: str
    pattern: str | None
    events: str
    sources: str
    notify: list[str]


def rule_view(rule: WatchRule) -> RuleView:
    return RuleView(
        name=rule.name,
        pattern=rule.pattern.pattern if rule.pattern is not None else None,
        events=", ".join(rule.events) or "new, edited (gone when matched)",
        sources=", ".join(rule.sources) or "any",
        notify=[target_kind(t) for t in rule.notify],
    )


def watch_page(request: Request) -> Response:
    context = context_of(request)
    rules = [rule_view(rule) for rule in context.config.monitoring.watch]
    matches = context.repo.outbox.matches(limit=RECENT_MATCHES)
    known = {rule.name for rule in rules}
    return render(request, "watch.html", rules=rules, matches=matches, known=known)
