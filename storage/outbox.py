"""The outbox aggregate: what watch rules matched, the notifications waiting to be sent, and
how far each consumer of the article events got (its cursor).

A match is stored once per (rule, article, dedup key) whatever the number of runs, restarts
or concurrent writers, in one transaction with its notifications (one per target) and the
consumer's cursor. Every method is one unit of work (see :mod:`storage.unit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import CURSORS, MATCHES, OUTBOX
from storage.records import NOTIFICATION_STATUSES, MatchInput, MatchView, NotificationView
from storage.unit import UnitOfWork, greatest, insert

_MATCH_COLUMNS = tuple(f.name for f in fields(MatchView) if f.name != "id")
_NOTIFICATION_COLUMNS = tuple(f.name for f in fields(NotificationView))


def _match_view(row: Any) -> MatchView:
    return MatchView(id=row["id"], **{name: row[name] for name in _MATCH_COLUMNS})


def _notification_view(row: Any) -> NotificationView:
    return NotificationView(**{name: row[name] for name in _NOTIFICATION_COLUMNS})


def _pending(
    *,
    rule: str,
    event: str,
    target: str,
    payload: dict[str, Any],
    at: datetime,
    match_id: int | None = None,
    alarm_id: int | None = None,
    article_id: str | None = None,
) -> dict[str, Any]:
    """A new outbox row: due at ``at``, never tried."""
    return {
        "rule": rule,
        "event": event,
        "target": target,
        "match_id": match_id,
        "alarm_id": alarm_id,
        "article_id": article_id,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "last_error": None,
        "created_at": at,
        "delivered_at": None,
    }


def _advance(session: Session, name: str, event_id: int, at: datetime) -> None:
    """Move consumer ``name`` to ``event_id``, never backwards."""
    statement = insert(session, CURSORS).values(name=name, event_id=event_id, updated_at=at)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "event_id": greatest(session, excluded.event_id, CURSORS.c.event_id),
            "updated_at": excluded.updated_at,
        },
    )
    session.execute(statement)


class Outbox(UnitOfWork):
    """Watch matches, the notification outbox and the event cursors."""

    # -- matches -------------------------------------------------------------------------

    def record_matches(
        self,
        matches: Sequence[MatchInput],
        *,
        cursor: str | None = None,
        event_id: int | None = None,
        at: datetime,
    ) -> list[MatchView]:
        """Store matches and queue their notifications, in one transaction with moving
        ``cursor`` to ``event_id``. A match stored before (same rule, article and dedup key)
        is skipped with its notifications; returns the matches stored now."""

        def work(session: Session) -> list[MatchView]:
            stored: list[MatchView] = []
            for match in sorted(matches, key=lambda m: (m.event_id or 0, m.rule, m.article_id)):
                view = self._store_match(session, match, at)
                if view is not None:
                    stored.append(view)
            if cursor is not None and event_id is not None:
                _advance(session, cursor, event_id, at)
            return stored

        return self._write(work)

    @staticmethod
    def _store_match(session: Session, match: MatchInput, at: datetime) -> MatchView | None:
        row = {name: getattr(match, name) for name in _MATCH_COLUMNS}
        statement = (
            insert(session, MATCHES)
            .values(row)
            .on_conflict_do_nothing(index_elements=["rule", "article_id", "dedup"])
            .returning(MATCHES.c.id)
        )
        new_id = session.execute(statement).scalar_one_or_none()
        if new_id is None:
            return None
        for target in dict.fromkeys(match.targets):
            outbox_row = _pending(
                rule=match.rule,
                event=match.event,
                target=target,
                payload=match.payload,
                at=at,
                match_id=new_id,
                article_id=match.article_id,
            )
            session.execute(OUTBOX.insert().values(outbox_row))
        return MatchView(id=new_id, **row)

    def matched_rules(self, article_id: str) -> set[str]:
        """The rules that matched some version of the article."""
        query = select(MATCHES.c.rule).where(MATCHES.c.article_id == article_id).distinct()
        return self._read(lambda s: set(s.execute(query).scalars()))

    def matches(
        self, rule: str | None = None, limit: int = 50, *, events: Sequence[str] = ()
    ) -> list[MatchView]:
        """The latest matches, newest first; optionally of one rule, and of these events
        (``new``, ``edited``, ``gone``) only."""
        query = select(MATCHES).order_by(MATCHES.c.id.desc()).limit(limit)
        if rule is not None:
            query = query.where(MATCHES.c.rule == rule)
        if events:
            query = query.where(MATCHES.c.event.in_(list(events)))
        return self._read(lambda s: [_match_view(r) for r in s.execute(query).mappings()])

    def cursor(self, name: str) -> int | None:
        """The last event id consumer ``name`` processed; None when it never ran."""
        query = select(CURSORS.c.event_id).where(CURSORS.c.name == name)
        return self._read(lambda s: s.execute(query).scalar_one_or_none())

    # -- notifications -------------------------------------------------------------------

    def enqueue(
        self,
        *,
        rule: str,
        event: str,
        targets: Iterable[str],
        payload: dict[str, Any],
        at: datetime,
        alarm_id: int | None = None,
    ) -> list[int]:
        """Queue a notification that belongs to no match (a health alarm); the new row ids."""
        rows = [
            _pending(rule=rule, event=event, target=t, payload=payload, at=at, alarm_id=alarm_id)
            for t in dict.fromkeys(targets)
        ]
        statement = OUTBOX.insert().returning(OUTBOX.c.id)
        return self._write(
            lambda s: [int(s.execute(statement.values(row)).scalar_one()) for row in rows]
        )

    def claim_due(
        self, now: datetime, *, lease_until: datetime, limit: int = 50, token: str | None = None
    ) -> list[NotificationView]:
        """Pending notifications due at ``now``, oldest first, leased until ``lease_until``
        (their next attempt moves there), so that no other deliverer takes them meanwhile.

        ``FOR UPDATE SKIP LOCKED``: deliverers on several nodes claiming at once each get
        rows no other one gets. ``token`` names this lease: :meth:`finish_attempt` given it
        records the attempt only while the lease is still this deliverer's."""
        query = (
            select(OUTBOX)
            .where(OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now)
            .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def work(session: Session) -> list[NotificationView]:
            rows = [
                replace(_notification_view(r), lease_token=token)
                for r in session.execute(query).mappings()
            ]
            if rows:
                session.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=lease_until, lease_token=token)
                )
            return rows

        return self._write(work)

    def finish_attempt(
        self,
        notification_id: int,
        *,
        at: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
        token: str | None = None,
    ) -> bool:
        """Record one delivery attempt: delivered (no ``error``), to be retried at
        ``retry_at``, or given up (an ``error`` and no ``retry_at``). With the ``token`` of
        its lease (see :meth:`claim_due`): False, nothing recorded, when another deliverer
        took the notification over (the lease had passed)."""
        values: dict[str, Any] = {"attempts": OUTBOX.c.attempts + 1}
        if error is None:
            values.update(status="delivered", delivered_at=at, last_error=None)
        elif retry_at is not None:
            values.update(status="pending", next_attempt_at=retry_at, last_error=error)
        else:
            values.update(status="given_up", last_error=error)
        statement = update(OUTBOX).where(
            OUTBOX.c.id == notification_id, OUTBOX.c.status == "pending"
        )
        if token is not None:
            statement = statement.where(OUTBOX.c.lease_token == token)
        return self._write(lambda s: bool(s.execute(statement.values(values)).rowcount))

    def counts(self) -> dict[str, int]:
        """Outbox rows by status (every status present, 0 when none)."""
        query = select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
        counts = dict.fromkeys(NOTIFICATION_STATUSES, 0)
        counts.update(self._read(lambda s: {k: int(n) for k, n in s.execute(query)}))
        return counts
