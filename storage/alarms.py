"""The alarms aggregate: health alarms of the sources, at most one active per (source, kind).

An alarm is raised once and then only refreshed while active; clearing it ends it, and the
next one of that kind is a new alarm. Every method is one unit of work (see
:mod:`storage.unit`).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import ALARMS
from storage.records import AlarmView
from storage.unit import UnitOfWork, insert

_COLUMNS = tuple(f.name for f in fields(AlarmView))


def _alarm_view(row: Any) -> AlarmView:
    return AlarmView(**{name: row[name] for name in _COLUMNS})


def _is_active(source: str, kind: str) -> Any:
    return (ALARMS.c.source == source) & (ALARMS.c.kind == kind) & ALARMS.c.cleared_at.is_(None)


class Alarms(UnitOfWork):
    """The sources' health alarms."""

    def raise_alarm(self, source: str, kind: str, message: str, at: datetime) -> AlarmView | None:
        """Raise the alarm (source, kind); returns it when it was not active already (an
        active one only gets the new message and check time, and None is returned)."""

        def work(session: Session) -> AlarmView | None:
            query = select(ALARMS.c.id).where(_is_active(source, kind))
            active = session.execute(query).scalar_one_or_none()
            if active is not None:
                session.execute(
                    update(ALARMS)
                    .where(ALARMS.c.id == active)
                    .values(message=message, checked_at=at)
                )
                return None
            row = {
                "source": source,
                "kind": kind,
                "message": message,
                "since": at,
                "checked_at": at,
                "cleared_at": None,
            }
            new_id = session.execute(
                insert(session, ALARMS).values(row).on_conflict_do_nothing().returning(ALARMS.c.id)
            ).scalar_one_or_none()
            return AlarmView(id=new_id, **row) if new_id is not None else None

        return self._write(work)

    def clear(self, source: str, kind: str, at: datetime) -> AlarmView | None:
        """Clear the active alarm (source, kind); returns it, or None when none was active."""
        statement = (
            update(ALARMS)
            .where(_is_active(source, kind))
            .values(cleared_at=at, checked_at=at)
            .returning(*ALARMS.c)
        )

        def work(session: Session) -> AlarmView | None:
            row = session.execute(statement).mappings().first()
            return _alarm_view(row) if row is not None else None

        return self._write(work)

    def active(self, source: str | None = None) -> list[AlarmView]:
        """Alarms not cleared, oldest first."""
        query = select(ALARMS).where(ALARMS.c.cleared_at.is_(None)).order_by(ALARMS.c.since)
        if source is not None:
            query = query.where(ALARMS.c.source == source)
        return self._read(lambda s: [_alarm_view(r) for r in s.execute(query).mappings()])
