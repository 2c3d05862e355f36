"""Article events (new, edited, gone, back): written in the transaction of the change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage.models import EVENTS
from storage.unit import chunks


def event_row(
    article_id: str,
    kind: str,
    at: datetime,
    *,
    version: int | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """One ``article_events`` row."""
    return {"article_id": article_id, "kind": kind, "version": version, "at": at, "detail": detail}


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Record ``rows`` (see :func:`event_row`), in order."""
    for chunk in chunks(rows):
        session.execute(EVENTS.insert(), list(chunk))
