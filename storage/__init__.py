"""The archive: SQLAlchemy models, identity keys and the stores by aggregate, composed by
:class:`Repository`. Imports no project code."""

from storage.db import make_engine, migrate
from storage.errors import (
    AmbiguousId,
    DatabaseUnavailable,
    SchemaMissing,
    StorageError,
    UnknownRun,
)
from storage.records import (
    AlarmView,
    ArticleInput,
    ArticleView,
    EventView,
    FailureInput,
    FailureView,
    MatchInput,
    MatchView,
    NotificationView,
    RawPage,
    RunStats,
    RunTotals,
    RunView,
    SaveOutcome,
    SaveResult,
    SourceState,
    UrlView,
    VersionView,
)
from storage.repository import Repository

__all__ = [
    "AlarmView",
    "AmbiguousId",
    "ArticleInput",
    "ArticleView",
    "DatabaseUnavailable",
    "EventView",
    "FailureInput",
    "FailureView",
    "MatchInput",
    "MatchView",
    "NotificationView",
    "RawPage",
    "Repository",
    "RunStats",
    "RunTotals",
    "RunView",
    "SaveOutcome",
    "SaveResult",
    "SchemaMissing",
    "SourceState",
    "StorageError",
    "UnknownRun",
    "UrlView",
    "VersionView",
    "make_engine",
    "migrate",
]
