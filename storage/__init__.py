"""The archive: SQLAlchemy models, identity keys and the repository. Imports no project code."""

from storage.db import make_engine, migrate
from storage.errors import (
    AmbiguousId,
    DatabaseUnavailable,
    SchemaMissing,
    StorageError,
    UnknownRun,
)
from storage.monitor import MonitorStore
from storage.records import (
    ArticleInput,
    ArticleView,
    FailureInput,
    FailureView,
    RawPage,
    RunView,
    SaveOutcome,
    SaveResult,
    SourceState,
    UrlView,
    VersionView,
)
from storage.repository import Repository

__all__ = [
    "AmbiguousId",
    "ArticleInput",
    "ArticleView",
    "DatabaseUnavailable",
    "FailureInput",
    "FailureView",
    "MonitorStore",
    "RawPage",
    "Repository",
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
