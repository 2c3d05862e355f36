"""The HTML pages of the reading room."""

from __future__ import annotations

from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from scheduler.web.context import context_of


def routes() -> list[BaseRoute]:
    return [Route("/", archive_page, methods=["GET"])]


def render(request: Request, name: str, code: int = 200, **values: object) -> Response:
    """The page of template ``name`` with ``values``, with HTTP status ``code``."""
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, values, status_code=code)


def error_page(request: Request, status: int, message: str) -> Response:
    """A page saying what went wrong, in one line."""
    heading = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return render(
        request, "error.html", status, status=status, heading=heading, message=message, q=""
    )


def archive_page(request: Request) -> Response:
    context = context_of(request)
    articles = context.repo.articles.newest(limit=context.config.web.page_size)
    return render(request, "archive.html", articles=articles, q="")
