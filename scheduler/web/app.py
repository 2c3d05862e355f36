"""The web app of ``kcna-monitor serve``: a read-only reading room over the archive.

:func:`create_app` composes it (Starlette): the pages (:mod:`scheduler.web.pages`), the JSON
API (:mod:`scheduler.web.api`), the Atom feeds (:mod:`scheduler.web.feeds`), ``/metrics``
and ``/healthz`` (here), the stylesheet; the security headers and, when the server is
reachable from other machines, the token check (:mod:`scheduler.web.security`).

Every route answers GET and HEAD only: nothing on the web writes. Handlers are plain
functions, run in Starlette's thread pool, because the archive is read through the
synchronous repository. Errors are one line, in the form the client asked for: a malformed
query or parameter is 400, a database that cannot answer is 503.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from scheduler.web import api, feeds, pages
from scheduler.web.context import WebContext, context_of
from scheduler.web.metrics import METRICS_TYPE
from scheduler.web.params import BadRequest
from scheduler.web.security import SecurityHeaders, TokenRequired
from storage.errors import AmbiguousId, StorageError
from storage.search import QueryError

logger = logging.getLogger("web")

HERE = Path(__file__).parent


def templates() -> Jinja2Templates:
    """The page templates; every value is HTML-escaped unless marked safe."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return Jinja2Templates(env=environment)


def create_app(context: WebContext, *, token: str | None = None) -> Starlette:
    """The app over ``context``; with ``token``, every request must present it."""
    middleware = [Middleware(SecurityHeaders)]
    if token is not None:
        middleware.append(Middleware(TokenRequired, token=token))
    routes = [
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/healthz", healthz_endpoint, methods=["GET"]),
        *feeds.routes(),
        *api.routes(),
        *pages.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            BadRequest: _bad_request,
            QueryError: _bad_request,
            AmbiguousId: _bad_request,
            StorageError: _unavailable,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    app.state.context = context
    app.state.templates = templates()
    return app


def metrics_endpoint(request: Request) -> Response:
    context = context_of(request)
    body = context.shared.get("/metrics", context.metrics)
    return Response(body, media_type=METRICS_TYPE, headers={"Cache-Control": "no-cache"})


def healthz_endpoint(request: Request) -> Response:
    context = context_of(request)
    status, report = context.shared.get("/healthz", context.health)
    return Response(
        json.dumps(report, indent=2) + "\n",
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-cache"},
    )


# -- errors: one line, in the client's form ----------------------------------------------


def _error(request: Request, status: int, message: str) -> Response:
    path = request.url.path
    if path.startswith("/api/"):
        return JSONResponse({"error": message, "status": status}, status_code=status)
    if path.endswith((".atom", ".xsl")) or path in ("/metrics", "/healthz"):
        return PlainTextResponse(message + "\n", status_code=status)
    return pages.error_page(request, status, message)


def _bad_request(request: Request, error: Any) -> Response:
    return _error(request, 400, str(error))


def _unavailable(request: Request, error: Any) -> Response:
    logger.warning("%s %s: database unavailable: %s", request.method, request.url.path, error)
    return _error(request, 503, f"database unavailable: {error}")


def _http_error(request: Request, error: Any) -> Response:
    detail = str(getattr(error, "detail", "") or "error")
    response = _error(request, error.status_code, detail)
    for name, value in (getattr(error, "headers", None) or {}).items():
        response.headers[name] = value
    return response


def _internal_error(request: Request, error: Exception) -> Response:
    logger.error("%s %s: %s: %s", request.method, request.url.path, type(error).__name__, error)
    return _error(request, 500, "internal error")
