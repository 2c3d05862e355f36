"""The reason a failed request records: never empty, and in words.

A middleware of the project that drops a request says why itself (:class:`RequestRefused`); an
HTTP error answer is its status; any other error is its type and message, or, when its message
is empty, its type's name in words (``ConnectionDone`` -> "connection done").
"""

from __future__ import annotations

import re

from scrapy.http import Response, TextResponse

from crawler.extract import shown_instead
from crawler.middlewares.refused import RequestRefused
from crawler.middlewares.truncated import EXPECTED, truncated_reason

_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def type_in_words(exception: BaseException) -> str:
    """``ResponseDataLossError()`` -> ``"response data loss error"``."""
    name = type(exception).__name__.strip("_")
    return _WORD_BREAK.sub(" ", name).lower() or "unknown error"


def failure_reason(exception: BaseException) -> str:
    """What a request that ended in ``exception`` records as its failure's reason."""
    if isinstance(exception, RequestRefused) and exception.reason.strip():
        return exception.reason
    response = getattr(exception, "response", None)
    if isinstance(response, Response):
        return f"HTTP {response.status}"
    message = str(exception).strip()
    if not message:
        return type_in_words(exception)
    return f"{type(exception).__name__}: {message}"


def dataloss_reason(response: Response) -> str | None:
    """Why a page let through cut short (``DOWNLOAD_FAIL_ON_DATALOSS`` off) is not stored, or
    None for a whole page."""
    if "dataloss" not in response.flags:
        return None
    return truncated_reason(len(response.body), response.meta.get(EXPECTED))


def soft_deletion(response: Response, public_url: str, final_url: str) -> str | None:
    """Why a stored article is gone when its page, read at ``final_url`` (public, after
    redirects), shows another kind of page (the site's home page, a list, an error page);
    None when it does not."""
    body = response.body if isinstance(response, TextResponse) else b""
    shown = shown_instead(public_url, body, final_url=final_url)
    return None if shown is None else f"soft deletion: the page now shows {shown}"
