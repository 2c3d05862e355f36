"""Conditional answers: an ``ETag`` on every API and feed answer, and ``304 Not Modified``
when the client already holds that body (``If-None-Match``).

The tag is a hash of the body, so it changes exactly when the answer does, whatever changed
it (a new article, an edit, a gone mark). ``Cache-Control: no-cache`` lets a client keep the
body but makes it ask again each time: a feed reader polling every few minutes costs one
small 304 while nothing changed, and sees a change at once.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

CACHE_CONTROL = "no-cache"


def etag_of(body: bytes, media_type: str = "") -> str:
    """The strong entity tag of ``body`` served as ``media_type`` (the same bytes as
    another type are another representation)."""
    digest = hashlib.sha256(media_type.encode() + b"\n" + body).hexdigest()
    return '"' + digest[:32] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, as RFC 9110
    asks for this header: ``W/"x"`` matches ``"x"``), or is ``*``."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def conditional(
    request: Request,
    body: bytes,
    media_type: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` as an answer with its ``ETag``, or an empty ``304`` when the request's
    ``If-None-Match`` names it. Only a successful answer is conditional."""
    if status != 200:
        return Response(body, status_code=status, media_type=media_type, headers=headers)
    etag = etag_of(body, media_type)
    headers = {**(headers or {}), "ETag": etag, "Cache-Control": CACHE_CONTROL}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
