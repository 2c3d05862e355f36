"""What one source's crawl did, summarised from its Scrapy stats: the line ``crawl`` prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crawler import stats as keys


@dataclass
class SourceSummary:
    source: str
    status: str
    pages: int
    new: int
    changed: int
    unchanged: int
    failures: int
    run_id: int | None
    error: str | None = None  # why the run failed or was interrupted, when it says
    #: Why a host of the source could not be reached at all (no network, blocked, down).
    unreachable: str | None = None

    def line(self) -> str:
        return (
            f"{self.source:<10} {self.status:<11} pages {self.pages:>5}  new {self.new:>5}"
            f"  changed {self.changed:>4}  unchanged {self.unchanged:>5}  failed {self.failures:>4}"
        )


def summarise(source: str, stats: Mapping[str, Any]) -> SourceSummary:
    def count(key: str) -> int:
        return int(stats.get(key, 0))

    pages = count(keys.RESPONSES)
    status = stats.get(keys.RUN_STATUS)
    if status is None:
        status = "failed" if stats.get("finish_reason") != "finished" or not pages else "ok"
    return SourceSummary(
        source=source,
        status=str(status),
        pages=pages,
        new=count(keys.NEW),
        changed=count(keys.CHANGED),
        unchanged=count(keys.UNCHANGED),
        failures=count(keys.FAILURES),
        run_id=stats.get(keys.RUN_ID),
        error=stats.get(keys.RUN_ERROR),
        unreachable=stats.get(keys.UNREACHABLE),
    )
