"""Source alarms, on SQLite and PostgreSQL: one active alarm per source and kind."""

from __future__ import annotations

from sqlalchemy import Engine

from storage.repository import Repository
from tests.storage_helpers import HOUR, T0, count_alarms


def test_one_active_alarm_per_source_and_kind(repo: Repository, engine: Engine) -> None:
    raised = repo.alarms.raise_alarm("kcna", "empty-listing", "3 listings empty", T0)
    assert raised is not None and raised.since == T0
    assert repo.alarms.raise_alarm("kcna", "empty-listing", "4 listings empty", T0 + HOUR) is None
    assert repo.alarms.raise_alarm("kcnawatch", "empty-listing", "1 listing empty", T0) is not None
    (active,) = repo.alarms.active("kcna")
    assert (active.message, active.since, active.checked_at) == (
        "4 listings empty",
        T0,
        T0 + HOUR,
    )
    cleared = repo.alarms.clear("kcna", "empty-listing", T0 + 2 * HOUR)
    assert cleared is not None and cleared.cleared_at == T0 + 2 * HOUR
    assert repo.alarms.clear("kcna", "empty-listing", T0 + 2 * HOUR) is None
    again = repo.alarms.raise_alarm("kcna", "empty-listing", "again", T0 + 3 * HOUR)
    assert again is not None and again.id != raised.id
    assert [a.source for a in repo.alarms.active()] == ["kcnawatch", "kcna"]
    assert count_alarms(engine) == 3
