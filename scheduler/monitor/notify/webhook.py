"""The ``webhook:URL`` target: the payload's JSON POSTed to an http(s) URL.

2xx is delivered. A 307 or 308 answer is followed with the same method, body and headers, to
http(s) URLs, for at most :data:`MAX_REDIRECTS` hops; any other redirect (301, 302, 303, ...),
a redirect loop or too many hops is a failure that is tried again later, like a 5xx. A 4xx but
408, 425 and 429 cannot succeed later.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from scheduler.monitor.notify.common import DeliveryError, one_line

USER_AGENT = "kcna-monitor notifier"
_RETRYABLE_HTTP = frozenset({408, 425, 429})
#: Redirects a webhook POST follows: they keep the method and the body (RFC 9110, 15.4).
_FOLLOWED_REDIRECTS = frozenset({307, 308})
#: How many 307/308 hops one webhook delivery follows at most.
MAX_REDIRECTS = 5


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET: here every 3xx answer becomes an
    HTTPError, and :meth:`WebhookChannel.post` decides what to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookChannel:
    def __init__(self, timeout: timedelta = timedelta(seconds=10)) -> None:
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def post(self, url: str, data: dict[str, Any]) -> None:
        """POST ``data`` as JSON to ``url``, following 307 and 308 answers (same method, body
        and headers) for at most :data:`MAX_REDIRECTS` hops.

        Raises :class:`DeliveryError`: permanent for a 4xx but 408, 425 and 429 (at the
        first URL or at one redirected to); temporary for anything else, a 3xx that is not
        followed included, so the outbox tries again later.
        """
        payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
        visited = [url]
        while True:
            redirect = self._post_once(url, payload, first=visited[0])
            if redirect is None:
                return
            status, location = redirect
            if not location:
                raise DeliveryError(f"HTTP {status} without a Location to redirect to")
            target = urljoin(url, location)
            what = f"HTTP {status} (redirect to {one_line(target, 300)})"
            if status not in _FOLLOWED_REDIRECTS:
                raise DeliveryError(f"{what}: not followed for a POST (only 307 and 308 are)")
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                raise DeliveryError(f"{what}: not an http(s) URL, not followed")
            if target in visited:
                raise DeliveryError(f"{what}: a redirect loop")
            if len(visited) > MAX_REDIRECTS:
                raise DeliveryError(f"{what}: more than {MAX_REDIRECTS} redirects")
            visited.append(target)
            url = target

    def _post_once(self, url: str, payload: bytes, *, first: str) -> tuple[int, str] | None:
        """One POST; None when it was delivered, ``(status, Location)`` for a 3xx answer.
        ``first`` is the configured URL, named in messages when ``url`` is another."""
        request = urllib.request.Request(
            url,
            data=payload,
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
            method="POST",
        )
        where = "" if url == first else f" at {one_line(url, 300)} (redirected from {first})"
        try:
            with self._opener.open(request, timeout=self.timeout.total_seconds()) as response:
                response.read(65536)
            return None
        except urllib.error.HTTPError as error:
            status = error.code
            location = error.headers.get("Location", "") if error.headers else ""
            error.close()
            if 300 <= status < 400:
                return status, location.strip()
            permanent = 400 <= status < 500 and status not in _RETRYABLE_HTTP
            raise DeliveryError(f"HTTP {status}{where}", permanent=permanent) from None
        except urllib.error.URLError as error:
            reason = error.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise DeliveryError(one_line(f"cannot reach {url}: {text}")) from None
        except (OSError, ValueError) as error:  # timeouts, resets, bad URLs
            message = one_line(f"cannot reach {url}: {error or type(error).__name__}")
            raise DeliveryError(message) from None
