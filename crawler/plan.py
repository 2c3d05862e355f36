"""What a crawl run does, as one typed value: the crawl plan, read from one setting.

- ``crawl`` (the default): read the listings, skip the articles stored already, stop paging at
  a page of known ones, revalidate listing pages, revisit young articles, retry recent
  failures;
- ``refetch``: read the listings and fetch every article listed again, whatever is stored;
- ``backfill``: walk the listings back past stored articles to their end (or to ``since``),
  recording how far it got so that an interrupted backfill resumes;
- ``recheck``: read no listing; fetch again the stored articles published from ``since`` to
  ``until`` and/or with one of ``ids`` (all of the source's when none is given).

The plan travels in the Scrapy setting ``KCNA_MONITOR_PLAN``: a :class:`CrawlPlan` (set in
code), a kind's name (``refetch``) or a JSON object (``{"kind": "backfill", "since":
"2026-01-01"}``), as :meth:`CrawlPlan.to_setting` writes it. Genuine tunables (how many days
count as young, batch sizes, conditional requests, ...) stay plain settings. Imports no Scrapy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol, get_args

Kind = Literal["crawl", "refetch", "backfill", "recheck"]
KINDS: tuple[str, ...] = get_args(Kind)

#: The setting holding the plan.
SETTING = "KCNA_MONITOR_PLAN"

#: Settings that used to select the mode, and what does it now.
RETIRED = {
    "KCNA_MONITOR_INCREMENTAL": '{"kind": "refetch"} (or --refetch)',
    "KCNA_MONITOR_BACKFILL": '{"kind": "backfill"} (or kcna-monitor backfill)',
    "KCNA_MONITOR_STOP_AT_KNOWN": '{"kind": "backfill"} (or kcna-monitor backfill)',
    "KCNA_MONITOR_SINCE": '{"kind": "backfill", "since": "YYYY-MM-DD"}',
    "KCNA_MONITOR_RECHECK": '{"kind": "recheck", ...} (or kcna-monitor recheck)',
    "KCNA_MONITOR_RECHECK_SINCE": '{"kind": "recheck", "since": "YYYY-MM-DD"}',
    "KCNA_MONITOR_RECHECK_UNTIL": '{"kind": "recheck", "until": "YYYY-MM-DD"}',
    "KCNA_MONITOR_RECHECK_IDS": '{"kind": "recheck", "ids": ["..."]}',
}


class PlanError(ValueError):
    """A crawl plan that cannot be used; the message is one line naming the setting."""


class _Settings(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...

    def __contains__(self, name: object) -> bool: ...


@dataclass(frozen=True)
class CrawlPlan:
    kind: Kind = "crawl"
    #: A backfill stops at listings older than this; a recheck takes articles published
    #: from this day.
    since: date | None = None
    #: A recheck takes articles published until this day (inclusive).
    until: date | None = None
    #: A recheck takes the articles with these ids (lower case).
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PlanError(f"{SETTING}: unknown kind {self.kind!r} (known: {', '.join(KINDS)})")
        object.__setattr__(self, "ids", _ids(self.ids))
        if self.kind != "recheck" and (self.until or self.ids):
            raise PlanError(f"{SETTING}: until and ids are for a recheck, not a {self.kind}")
        if self.since and self.kind not in ("backfill", "recheck"):
            raise PlanError(f"{SETTING}: since is for a backfill or a recheck, not a {self.kind}")
        if self.since and self.until and self.since > self.until:
            raise PlanError(f"{SETTING}: since {self.since} is after until {self.until}")

    # -- what the plan means for the components ------------------------------------------

    @property
    def uses_archive(self) -> bool:
        """Whether the crawl loads what is stored (a refetch knows nothing)."""
        return self.kind != "refetch"

    @property
    def reads_listings(self) -> bool:
        """Whether the crawl reads listing pages (a recheck fetches stored articles only)."""
        return self.kind != "recheck"

    @property
    def stops_at_known(self) -> bool:
        """Whether paging stops at a listing page whose articles are all stored."""
        return self.kind == "crawl"

    @property
    def conditional(self) -> bool:
        """Whether pages are revalidated with the validators of their last fetch."""
        return self.kind in ("crawl", "recheck")

    @property
    def run_kind(self) -> str:
        """The kind of run recorded in the archive (a refetch is a crawl)."""
        return "crawl" if self.kind == "refetch" else self.kind

    # -- the setting ----------------------------------------------------------------------

    def to_setting(self) -> str:
        """The plan as the setting's text (JSON)."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.since:
            data["since"] = self.since.isoformat()
        if self.until:
            data["until"] = self.until.isoformat()
        if self.ids:
            data["ids"] = list(self.ids)
        return json.dumps(data)

    @classmethod
    def parse(cls, value: Any) -> CrawlPlan:
        """The plan a setting's value gives: a plan, a kind's name, a JSON object (or a
        mapping); empty means a crawl."""
        if isinstance(value, CrawlPlan):
            return value
        if value is None or (isinstance(value, str) and not value.strip()):
            return cls()
        if isinstance(value, str):
            text = value.strip()
            if text in KINDS:
                return cls(kind=text)  # type: ignore[arg-type]
            try:
                value = json.loads(text)
            except ValueError:
                value = None
        if not isinstance(value, dict):
            raise PlanError(
                f"{SETTING}: not a crawl plan (a kind: {', '.join(KINDS)}; or a JSON object):"
                f" {_short(value if value is not None else text)}"
            )
        return cls._of(value)

    @classmethod
    def _of(cls, data: dict[str, Any]) -> CrawlPlan:
        known = ("kind", "since", "until", "ids")
        unknown = [key for key in data if key not in known]
        if unknown:
            raise PlanError(f"{SETTING}: unknown key {unknown[0]!r} (known: {', '.join(known)})")
        ids = data.get("ids") or ()
        if isinstance(ids, str):
            ids = ids.split(",")
        if not isinstance(ids, list | tuple) or not all(isinstance(i, str) for i in ids):
            raise PlanError(f"{SETTING}: ids must be a list of article ids, got {_short(ids)}")
        return cls(
            kind=data.get("kind", "crawl"),
            since=_day(data.get("since"), "since"),
            until=_day(data.get("until"), "until"),
            ids=tuple(ids),
        )

    @classmethod
    def from_settings(cls, settings: _Settings) -> CrawlPlan:
        """The plan of a crawl's Scrapy settings; :class:`PlanError` for a bad one, or for a
        retired setting that used to select the mode."""
        for name, instead in RETIRED.items():
            if name in settings:
                raise PlanError(f"{name} is no longer read: set {SETTING} to {instead}")
        return cls.parse(settings.get(SETTING))


def _ids(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(i.strip().lower() for i in ids if i.strip())


def _day(value: Any, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PlanError(
            f"{SETTING}: {name} must be a date (YYYY-MM-DD), got {_short(value)}"
        ) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
