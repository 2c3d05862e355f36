"""What every page uses: rendering a template with the helpers templates share, the error
page, and the way dates and times are shown."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from scheduler.configtypes import format_duration
from scheduler.web.markup import snippet_html


def when(value: datetime | date | str | None, empty: str = "–") -> str:
    """A moment as ``YYYY-MM-DD HH:MM UTC`` (an ISO string is read first), a date as
    ``YYYY-MM-DD``; ``empty`` for None."""
    if value is None:
        return empty
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def seconds(value: float) -> str:
    """A duration in seconds as people say it: ``45s``, ``1h``, ``2m 30s``."""
    return format_duration(timedelta(seconds=round(value)))


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 article``, ``2 articles``: the count with the word it counts."""
    word = singular if count == 1 else (many or singular + "s")
    return f"{count:,} {word}"


#: Values every template may use.
HELPERS = {
    "when": when,
    "plural": plural,
    "seconds": seconds,
    "snippet_html": snippet_html,
}


def render(request: Request, name: str, code: int = 200, **values: object) -> Response:
    """The page of template ``name`` with ``values``, with HTTP status ``code``."""
    templates = request.app.state.templates
    context = {"q": "", **HELPERS, **values}
    return templates.TemplateResponse(request, name, context, status_code=code)


def error_page(
    request: Request, status: int, message: str, *, candidates: Sequence[str] = ()
) -> Response:
    """A page saying what went wrong, in one line (``candidates``: article ids to choose
    from, for an ambiguous id)."""
    heading = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return render(
        request,
        "error.html",
        status,
        status=status,
        heading=heading,
        message=message,
        candidates=list(candidates),
        q=request.query_params.get("q", ""),  # to correct a query that could not be read
    )
