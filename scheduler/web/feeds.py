"""The Atom feeds: ``/feed.atom`` (new and edited articles) and ``/feed/RULE.atom`` (the
articles a watch rule matches), built by :mod:`scheduler.monitor.feed`."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from scheduler.monitor.feed import ATOM_TYPE, build_feed
from scheduler.web.context import context_of


def routes() -> list[BaseRoute]:
    return [
        Route("/feed.atom", overall_feed, methods=["GET"]),
        Route("/feed/{rule}.atom", rule_feed, methods=["GET"]),
    ]


def overall_feed(request: Request) -> Response:
    context = context_of(request)
    self_url = str(request.url)
    body = context.shared.get(
        ("feed", self_url),
        lambda: build_feed(context.repo, now=context.clock(), self_url=self_url),
    )
    return Response(body, media_type=ATOM_TYPE)


def rule_feed(request: Request) -> Response:
    context = context_of(request)
    rule = context.config.monitoring.rule(request.path_params["rule"])
    if rule is None:
        raise HTTPException(404, "no such watch rule")
    self_url = str(request.url)
    body = context.shared.get(
        ("feed", self_url),
        lambda: build_feed(context.repo, now=context.clock(), rule=rule, self_url=self_url),
    )
    return Response(body, media_type=ATOM_TYPE)
