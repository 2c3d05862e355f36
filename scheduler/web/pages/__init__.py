"""The HTML pages of the reading room, server-rendered, without scripts.

- ``/`` the archive and ``/search`` its search (:mod:`.archive`);
- ``/articles/ID`` one article, its versions compared word by word, its events
  (:mod:`.article`);
- ``/sources`` what the daemon did and will do, ``/watch`` the watch rules and their matches
  (:mod:`.status`).

Every value a template shows is escaped by Jinja2; the only HTML passed through is the
:class:`markupsafe.Markup` of :mod:`scheduler.web.markup`, built from escaped text.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from scheduler.web.pages import archive, article, status
from scheduler.web.pages.common import error_page, render

__all__ = ["error_page", "render", "routes"]


def routes() -> list[BaseRoute]:
    """The pages; each answers GET and HEAD."""
    return [
        Route("/", archive.archive_page, methods=["GET"]),
        Route("/search", archive.search_page, methods=["GET"]),
        Route("/articles/{article_id}", article.article_page, methods=["GET"]),
        Route("/sources", status.sources_page, methods=["GET"]),
        Route("/watch", status.watch_page, methods=["GET"]),
    ]
