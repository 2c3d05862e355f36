"""What the daemon says about a run: one line per run of a source, and nothing else.

A run's crawl is a child process whose stderr is its log. The daemon does not pass it on as
it is: :class:`ChildLines` attributes each line to its run (``kcna run 12: ...``) and logs it
at DEBUG, and the lines that say what went wrong become the reason a failed run's line gives.
What happened to a source's job between two of its runs (a run that came due while the
previous one was still going, a run missed) is told in the next run's line
(:class:`JobNotes`). So at the default level the daemon prints its start and stop lines and
one line per run, plus what needs someone's attention (alarms, notifications given up).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass

logger = logging.getLogger("daemon")

#: A line of the child's log: ``2024-05-01 12:00:00 WARNING [kcna] could not fetch ...``.
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)? (?P<level>[A-Z]+) \[(?P<name>[^\]]*)\] "
    r"(?P<message>.*)$"
)
#: The command's own last word when it fails: ``kcna-monitor: error: nothing could be ...``.
ERROR_LINE = re.compile(r"^[\w.][\w. -]*: error: (?P<message>.*)$")
#: An error that only points at the log (which the daemon does not show at its default level).
SEE_THE_LOG = re.compile(r"\s*\((?:see|check) the log[^)]*\)")
#: Loggers of libraries: their lines are the second choice for a reason, after the crawler's.
LIBRARIES = ("scrapy", "twisted", "py.warnings", "asyncio", "urllib3", "tldextract", "alembic")
#: The longest reason a run line carries.
REASON_LIMIT = 300


@dataclass(frozen=True)
class _Problem:
    order: int
    level: int
    library: bool
    message: str


class ChildLines:
    """The stderr lines of one run's child crawl, a callable the crawl passes each line to.

    Each line is logged at DEBUG as ``LABEL: line`` (its time stamp dropped: the daemon's
    record has one). Lines at WARNING and above, and the command's closing ``error:`` line,
    are kept for :meth:`reason`.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self._lock = threading.Lock()
        self._problems: list[_Problem] = []
        self._error: str | None = None

    def __call__(self, line: str) -> None:
        parsed = LOG_LINE.match(line)
        shown = line if parsed is None else line.split(" ", 2)[2]
        logger.debug("%s: %s", self.label, shown)
        if parsed is None:
            closing = ERROR_LINE.match(line)
            if closing is not None:
                with self._lock:
                    self._error = closing["message"].strip()
            return
        level = logging.getLevelName(parsed["level"])
        if not isinstance(level, int) or level < logging.WARNING:
            return
        message = parsed["message"].strip()
        if message.startswith("(") and message.endswith(")"):
            message = message[1:-1]  # an error logged without a message: "(Type: text)"
        if not message or message.endswith(":"):
            return  # it announces lines that follow (a traceback, folded away)
        library = parsed["name"].split(".", 1)[0] in LIBRARIES
        with self._lock:
            order = len(self._problems)
            self._problems.append(_Problem(order, level, library, message))

    def reason(self) -> str | None:
        """Why the run failed, in words, from what the child said (None: it said nothing).

        The command's own error comes first; one that only points at the log ("nothing could
        be fetched (see the log above for why)") is completed with the most telling line of
        that log: the most severe of the crawler's own lines, else of the libraries' (the
        last of them: after a crash, the error itself)."""
        with self._lock:
            error, problems = self._error, list(self._problems)
        detail = None
        if problems:
            best = min(problems, key=lambda p: (p.library, -p.level, -p.order))
            more = len(problems) - 1
            detail = best.message + (f" (and {more} more)" if more else "")
        if error is not None and SEE_THE_LOG.search(error):
            error = SEE_THE_LOG.sub("", error)
            text = f"{error}: {detail}" if detail else error
        else:
            text = error or detail
        return _shorten(text) if text else None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


class JobNotes:
    """What befell a source's job between two of its runs, to be told in the next run's line
    rather than in lines of its own (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._skipped: Counter[str] = Counter()
        self._missed: Counter[str] = Counter()

    def skipped(self, name: str) -> None:
        """A run of ``name`` came due while the previous one was still going."""
        with self._lock:
            self._skipped[name] += 1

    def missed(self, name: str) -> None:
        """A run of ``name`` was due but the daemon came to it more than the misfire grace
        late (it was suspended, or overloaded)."""
        with self._lock:
            self._missed[name] += 1

    def take(self, name: str) -> list[str]:
        """The notes for ``name``'s run line, forgotten once taken."""
        with self._lock:
            skipped = self._skipped.pop(name, 0)
            missed = self._missed.pop(name, 0)
        notes = []
        if skipped:
            notes.append(f"{_runs(skipped)} due while it ran skipped")
        if missed:
            notes.append(
                f"{_runs(missed)} missed (the daemon was late by more than the misfire grace)"
            )
        return notes


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"
