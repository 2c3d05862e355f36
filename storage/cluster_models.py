"""The tables of a cluster of daemons sharing one archive (see :mod:`storage.cluster`).

- ``cluster_nodes``: one row per daemon process (node) that ever ran against the archive,
  with its host, pid, version, start, latest check-in, what it runs now and the hash of its
  effective configuration.
- ``run_claims``: one row per scheduled run (source, slot) some node claimed: which node
  holds it, until when (its lease), under which token (raised by every takeover), its state
  and the crawl run recording it.

They live apart from :mod:`storage.models` (same metadata) to keep that module readable;
:mod:`storage.cluster` and the migration environment import them.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import CheckConstraint, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

#: A claim's states: its node runs it, it ended (ok or not), or its node gave it back.
CLAIM_STATES = ("running", "done", "released")


class ClusterNode(Base):
    __tablename__ = "cluster_nodes"

    node_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime]
    checked_in_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]
    running: Mapped[str | None] = mapped_column(Text)  # e.g. "kcna run 12", comma-separated
    config_hash: Mapped[str] = mapped_column(String(64))


class RunClaim(Base):
    __tablename__ = "run_claims"
    __table_args__ = (
        CheckConstraint("state IN ('running', 'done', 'released')", name="state"),
        Index(None, "state", "lease_until"),
    )

    source: Mapped[str] = mapped_column(String(50), primary_key=True)
    slot_at: Mapped[datetime] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(100))
    token: Mapped[int] = mapped_column(Integer)  # 1, then one more per takeover
    lease_until: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20))
    run_id: Mapped[int | None] = mapped_column(Integer)  # the crawl run of the current holder
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


NODES = cast(Table, ClusterNode.__table__)
CLAIMS = cast(Table, RunClaim.__table__)
